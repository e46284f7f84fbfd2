"""The mass-message console: composing with an uploaded image (stored re-encoded, served without its metadata),
field-level errors that write nothing, the dry run that keeps a blocked word from being scheduled until it is
fixed, an admin's approval for protected people (audited), and the results page against the simulator."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time

import pytest
from django.test import Client
from PIL import Image

from siyu.messaging import reasons, uploads
from siyu.messaging.models import Decision, MassMessage, MassPlan, MassTask
from siyu.orgs.models import AuditEntry
from tests.factories import client_for
from tests.messaging.helpers import set_policy, tag_customer
from tests.messaging.mass_helpers import Corp

pytestmark = pytest.mark.django_db
GOOD = {"title": "春季上新", "text": "春季新品到店，欢迎来看看", "target": "customers", "audience": "filters",
        "purpose": "marketing", "when": "now",
        "att-TOTAL_FORMS": "0", "att-INITIAL_FORMS": "0", "att-MIN_NUM_FORMS": "0", "att-MAX_NUM_FORMS": "9"}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_URL = "http://testserver"


@pytest.fixture
def corp(world):
    corp = Corp(world.org)
    yield corp
    corp.stop()


def photo(name="photo.jpg", fmt="JPEG") -> io.BytesIO:
    """A phone photo: pixels plus EXIF naming the camera (a GPS position would sit in the same block)."""
    image = Image.new("RGB", (40, 30), (200, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model-Secret-123"  # Model
    data = io.BytesIO()
    image.save(data, fmt, exif=exif.tobytes()) if fmt == "JPEG" else image.save(data, fmt)
    data.seek(0)
    data.name = name
    return data


def stored_files() -> list:
    return sorted(uploads.folder().glob("*")) if uploads.folder().exists() else []


def test_an_uploaded_image_is_stored_without_its_metadata_and_served_to_anyone_with_its_url(world):
    client = client_for(world.admin)
    response = client.post("/messaging/mass/new/", {**GOOD, "images": [photo()]})
    assert response.status_code == 302
    message = MassMessage.objects.for_org(world.org).get()
    [attachment] = message.attachments
    url = attachment["image"]["pic_url"]
    assert attachment["msgtype"] == "image" and url.startswith("http://testserver/messaging/mass/media/")
    assert b"Model-Secret-123" in photo().getvalue()
    served = Client().get(url.removeprefix("http://testserver"))  # WeCom's upload fetches it with no session
    assert served.status_code == 200 and served["X-Content-Type-Options"] == "nosniff"
    body = b"".join(served.streaming_content)
    assert b"Model-Secret-123" not in body and not Image.open(io.BytesIO(body)).getexif()
    assert Image.open(io.BytesIO(body)).size == (40, 30)
    assert Client().get("/messaging/mass/media/..%2Fsiyu.sqlite3").status_code == 404


TOO_LONG = "长" * 1400  # 4,200 bytes: WeCom takes 4,000


@pytest.mark.parametrize("bad, field", [
    ({"title": "  "}, "title"),
    ({"text": TOO_LONG}, "text"),
    ({"text": "", "images": []}, "text"),
    ({"when": "later"}, "scheduled_at"),
    ({"when": "later", "scheduled_at": "2001-01-01T09:00"}, "scheduled_at"),
    ({"audience": "segment"}, "segment"),
    ({"segment": "999999", "audience": "segment"}, "segment"),
    ({"purpose": "spam"}, "purpose"),
    ({"target": "everyone"}, "target"),
    ({"tags": ["999999"]}, "tags"),
    ({"group_owners": ["999999"], "target": "groups"}, "group_owners"),
])
def test_bad_input_is_a_field_error_and_writes_nothing(world, bad, field):
    response = client_for(world.admin).post("/messaging/mass/new/", {**GOOD, "images": [photo()], **bad})
    assert response.status_code == 400
    assert field in response.context["form"].errors, response.context["form"].errors
    assert not MassMessage.objects.for_org(world.org).exists()
    assert stored_files() == []  # the valid image of a refused form is not kept either


def test_a_file_that_is_not_an_image_is_refused_on_its_field(world):
    fake = io.BytesIO(b"<script>alert(1)</script>")
    fake.name = "evil.png"
    response = client_for(world.admin).post("/messaging/mass/new/", {**GOOD, "images": [photo(), fake]})
    assert response.status_code == 400 and "images" in response.context["form"].errors
    assert not MassMessage.objects.for_org(world.org).exists() and stored_files() == []


def test_more_than_nine_attachments_and_a_bad_link_are_refused(world):
    link = {"att-0-kind": "link", "att-0-title": "新品", "att-0-url": "ftp://example.com/x"}
    response = client_for(world.admin).post("/messaging/mass/new/", {**GOOD, **link, "att-TOTAL_FORMS": "1"})
    assert response.status_code == 400 and "url" in response.context["attachments"].forms[0].errors
    ten = [photo(f"p{i}.jpg") for i in range(10)]
    response = client_for(world.admin).post("/messaging/mass/new/", {**GOOD, "images": ten})
    assert response.status_code == 400 and "最多 9 个附件" in str(response.context["form"].errors["images"])
    assert not MassMessage.objects.for_org(world.org).exists() and stored_files() == []


def test_a_blocked_word_keeps_the_send_button_off_until_it_is_fixed(world):
    client = client_for(world.admin)
    client.post("/messaging/mass/new/", {**GOOD, "text": "全网最低价，快来抢"})
    message = MassMessage.objects.for_org(world.org).get()
    page = client.get(f"/messaging/mass/{message.pk}/").content.decode()
    assert "<mark" in page and "全网最低价" in page
    assert 'data-testid="mass-send" disabled' in page
    refused = client.post(f"/messaging/mass/{message.pk}/schedule/")
    assert refused.status_code == 400 and "全网最低价" in str(refused.context["schedule_form"].errors)
    message.refresh_from_db()
    assert message.status == MassMessage.Status.DRAFT and not MassPlan.objects.for_org(world.org).exists()

    assert client.post(f"/messaging/mass/{message.pk}/", {**GOOD, "text": "春季新品，欢迎到店"}).status_code == 302
    page = client.get(f"/messaging/mass/{message.pk}/").content.decode()
    assert 'data-testid="mass-send" disabled' not in page
    assert client.post(f"/messaging/mass/{message.pk}/schedule/").status_code == 302
    message.refresh_from_db()
    assert message.status == MassMessage.Status.SCHEDULED and message.text == "春季新品，欢迎到店"
    assert AuditEntry.objects.filter(action="messaging.mass_updated", object_id=str(message.pk)).exists()
    # A scheduled message is no longer a draft: its form is not offered, and an edit is refused.
    assert client.get(f"/messaging/mass/{message.pk}/").status_code == 302
    assert client.post(f"/messaging/mass/{message.pk}/", {**GOOD, "text": "改"}).status_code == 302
    message.refresh_from_db()
    assert message.text == "春季新品，欢迎到店"


def test_a_scheduled_time_is_read_in_the_brands_zone(world, clock):
    set_policy(world.org, timezone="America/New_York")
    response = client_for(world.admin).post("/messaging/mass/new/", {**GOOD, "when": "later",
                                                                     "scheduled_at": "2099-03-01T09:30"})
    assert response.status_code == 302
    # 09:30 in New York on 1 March (before daylight saving) is 14:30 UTC.
    assert MassMessage.objects.for_org(world.org).get().scheduled_at == datetime(2099, 3, 1, 14, 30, tzinfo=UTC)


def protected_draft(world, corp):
    """A draft to a protected customer (a protected tag) and an adult, both friends of one member."""
    [ann] = corp.staff(1, store=world.e1)
    kid, adult = corp.customers(ann, 2)
    tag = tag_customer(world.org, kid, "未成年")
    set_policy(world.org, protected_tag_ids=[tag.pk], quiet_start=time(0), quiet_end=time(0))
    client = client_for(world.admin)
    client.post("/messaging/mass/new/", GOOD)
    return client, MassMessage.objects.for_org(world.org).get(), kid, adult


def test_protected_people_need_an_admins_approval_which_is_audited(world, corp):
    client, message, kid, adult = protected_draft(world, corp)
    page = client.get(f"/messaging/mass/{message.pk}/").content.decode()
    assert 'name="approve_protected"' in page and reasons.label(reasons.PROTECTED_TAG) in page
    assert client.post(f"/messaging/mass/{message.pk}/schedule/", {"approve_protected": "on"}).status_code == 302
    corp.run()
    decisions = dict(Decision.objects.for_org(world.org).values_list("customer_id", "reason"))
    assert decisions == {kid.pk: reasons.PROTECTED_APPROVED, adult.pk: ""}
    entry = AuditEntry.objects.get(action="messaging.protected_approved")
    assert entry.actor == world.admin.user and entry.details["count"] == 1


def test_without_approval_protected_people_are_left_out(world, corp):
    client, message, _kid, adult = protected_draft(world, corp)
    assert client.post(f"/messaging/mass/{message.pk}/schedule/").status_code == 302
    corp.run()
    [(_sender, ids)] = corp.recipients().values()
    assert ids == [adult.external_userid]
    assert not AuditEntry.objects.filter(action="messaging.protected_approved").exists()


def test_the_results_page_polls_while_planning_and_shows_the_simulators_counts(world, corp):
    ann, bob = corp.staff(2, store=world.e1)
    corp.customers(ann, 3)
    corp.customers(bob, 2)
    corp.customers(bob, 1, consent=False)
    client = client_for(world.admin)
    client.post("/messaging/mass/new/", GOOD)
    message = MassMessage.objects.for_org(world.org).get()
    client.post(f"/messaging/mass/{message.pk}/schedule/")
    waiting = client.get(f"/messaging/mass/{message.pk}/results/").content.decode()
    assert f'hx-get="/messaging/mass/{message.pk}/progress/"' in waiting  # planned by a job: the page polls
    corp.run()
    for msgid, (sender, _ids) in corp.recipients().items():
        if sender == ann.userid:
            corp.sim.confirm_groupmsg(msgid, sender)
    assert client.post(f"/messaging/mass/{message.pk}/refresh/").status_code == 302
    progress = client.get(f"/messaging/mass/{message.pk}/progress/")
    counts = {k: v for k, v in _counts(progress.content.decode())}
    assert counts["planned"] == "6" and counts["excluded"] == "1" and counts["handed"] == "5"
    assert counts["confirmed"] == "3" and counts["delivered"] == "3"
    assert "hx-get" not in progress.content.decode()  # every task made: polling stops
    page = client.get(f"/messaging/mass/{message.pk}/results/").content.decode()
    assert "提醒员工确认" in page and "取消群发" not in page  # ann already sent: nothing to cancel as a whole
    assert client.post(f"/messaging/mass/{message.pk}/remind/").status_code == 302
    assert MassTask.objects.for_org(world.org).get(userid=bob.userid).reminded_at is not None
    assert MassTask.objects.for_org(world.org).get(userid=ann.userid).reminded_at is None


def test_cancel_is_offered_while_nobody_confirmed(world, corp):
    [ann] = corp.staff(1, store=world.e1)
    corp.customers(ann, 2)
    client = client_for(world.admin)
    client.post("/messaging/mass/new/", GOOD)
    message = MassMessage.objects.for_org(world.org).get()
    client.post(f"/messaging/mass/{message.pk}/schedule/")
    corp.run()
    assert "取消群发" in client.get(f"/messaging/mass/{message.pk}/results/").content.decode()
    assert client.post(f"/messaging/mass/{message.pk}/cancel/").status_code == 302
    message.refresh_from_db()
    assert message.status == MassMessage.Status.CANCELLED
    assert all(t.cancelled for t in corp.sim.state.msg_templates.values())


def test_guides_and_other_brands_cannot_reach_the_console(world):
    client_for(world.admin).post("/messaging/mass/new/", GOOD)
    message = MassMessage.objects.for_org(world.org).get()
    assert client_for(world.guide_e1).get("/messaging/mass/").status_code == 403
    assert client_for(world.other_admin).get(f"/messaging/mass/{message.pk}/").status_code == 404
    assert client_for(world.other_admin).post(f"/messaging/mass/{message.pk}/schedule/").status_code == 404


def _counts(html: str):
    import re

    return re.findall(r'data-count="(\w+)">([\d,]+)<', html)
