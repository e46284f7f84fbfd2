"""Welcome messages that send materials from the library: chosen in the console (the welcome form and the channel
code form), stored as a reference, resolved when a customer adds, their files uploaded to WeCom once and again
after its three days; a material withdrawn meanwhile is skipped and warned about; bad choices change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from siyu.channels import services, welcome_materials
from siyu.channels.models import ChannelCode, WelcomeMessage, WelcomeSend
from siyu.content import materials
from siyu.orgs.roles import Role
from siyu.tracking import links
from siyu.tracking.models import TrackedLink
from siyu.wecom.simulator import SimClock
from tests.channels.conftest import Corp
from tests.channels import test_views
from tests.content.materials_support import make
from tests.factories import client_for, make_member, make_org

team = test_views.team  # the channel code form's staff and tags, a fixture
form_data = test_views.form_data
LINK = {"msgtype": "link", "link": {"title": "新品菜单", "url": "https://example.com/menu"}}


def ref(material) -> dict:
    return welcome_materials.reference(material.pk)


def post_welcome(client, *rows: dict, text: str = "欢迎光临"):
    data = {"scope": "default", "text": text, "att-TOTAL_FORMS": str(len(rows)), "att-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        data.update({f"att-{i}-{k}": v for k, v in row.items()})
    return client.post("/channels/welcome/new/", data)


# -- choosing in the console ------------------------------------------------------------------------------------
def test_the_welcome_form_stores_a_chosen_material_as_a_reference(world):
    article = make(world, "article", approve=True)
    response = post_welcome(client_for(world.admin), {"kind": "material", "material": str(article.pk)},
                            {"kind": "link", "title": "新品菜单", "url": "https://example.com/menu"})
    assert response.status_code == 302, response.content.decode()
    message = WelcomeMessage.objects.for_org(world.org).get()
    assert message.attachments == [ref(article), LINK]
    page = client_for(world.admin).get(f"/channels/welcome/{message.pk}/").content.decode()
    assert f'<option value="{article.pk}" selected>' in page  # the form shows the chosen material again


@pytest.mark.parametrize("which", ["unknown", "other_org", "draft", "personal", "missing"])
def test_a_bad_material_choice_is_a_form_error_and_nothing_is_saved(world, which):
    other = make_org()
    chosen = {
        "unknown": lambda: 999_999,
        "other_org": lambda: make(type("W", (), {"org": other, "admin": make_member(other)}), "image", approve=True).pk,
        "draft": lambda: make(world, "image").pk,
        "personal": lambda: make(world, "image", scope="personal", by=world.guide_e1, approve=True).pk,
        "missing": lambda: "",
    }[which]()
    response = post_welcome(client_for(world.admin), {"kind": "material", "material": str(chosen)})
    assert response.status_code == 400
    page = response.content.decode()
    assert ("请选择素材" if which == "missing" else "素材不存在或未通过审核") in page
    assert not WelcomeMessage.objects.for_org(world.org).exists()


@pytest.mark.parametrize("which", ["unknown", "other_org", "draft", "withdrawn", "malformed"])
def test_the_service_refuses_a_reference_to_a_material_that_cannot_be_sent(world, which):
    other = make_org()
    material = {
        "unknown": lambda: None,
        "other_org": lambda: make(type("W", (), {"org": other, "admin": make_member(other)}), "pdf", approve=True),
        "draft": lambda: make(world, "pdf"),
        "withdrawn": lambda: materials.withdraw_material(make(world, "pdf", approve=True), by=world.admin),
        "malformed": lambda: None,
    }[which]()
    attachment = {"msgtype": "material", "material": {"id": "1"}} if which == "malformed" else \
        welcome_materials.reference(material.pk if material else 999_999)
    with pytest.raises(ValidationError) as caught:
        services.save_welcome_message(world.org, by=world.admin, text="你好", attachments=[attachment])
    assert any("素材不存在或未通过审核" in m for m in caught.value.message_dict["attachments"])
    assert not WelcomeMessage.objects.for_org(world.org).exists()


def test_nine_attachments_at_most_materials_included(world):
    image = make(world, "image", approve=True)
    with pytest.raises(ValidationError) as caught:
        services.save_welcome_message(world.org, by=world.admin, text="你好", attachments=[ref(image)] * 5 + [LINK] * 5)
    assert any("最多 9 个附件" in m for m in caught.value.message_dict["attachments"])
    assert services.save_welcome_message(world.org, by=world.admin, attachments=[ref(image)] * 9).attachments == [ref(image)] * 9


def test_the_channel_code_form_chooses_materials_too(world, corp, team):
    video, draft = make(world, "video", approve=True), make(world, "pdf")
    client = client_for(world.admin)
    form = client.get("/channels/new/").content.decode()
    assert f'<option value="{video.pk}">视频 · {video.title}</option>' in form and draft.title not in form
    refused = client.post("/channels/new/", form_data(team, **{"att-1-kind": "material", "att-1-material": str(draft.pk)}))
    assert refused.status_code == 400 and "素材不存在或未通过审核" in refused.content.decode()
    assert not ChannelCode.objects.for_org(world.org).exists()

    response = client.post("/channels/new/", form_data(team, **{"att-1-kind": "material", "att-1-material": str(video.pk)}))
    assert response.status_code == 302
    code = ChannelCode.objects.for_org(world.org).get()
    assert WelcomeMessage.objects.for_org(world.org).get(code=code).attachments[1] == ref(video)
    detail = client.get(response["Location"]).content.decode()
    assert video.title in detail and 'data-testid="welcome-stale"' not in detail


# -- sending ----------------------------------------------------------------------------------------------------
@pytest.fixture
def live(transactional_db, settings, live_server, tmp_path):
    """A brand wired to a simulator on the real clock (so time travel moves WeCom and Siyu alike); Siyu's public
    address is the live server, where WeCom's upload fetches the materials' files from."""
    settings.MEDIA_ROOT, settings.PUBLIC_URL = tmp_path, live_server.url
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    corp = Corp(make_org(), clock=SimClock())
    corp.admin = make_member(corp.org, Role.HQ_ADMIN)
    yield corp
    corp.close()


def test_image_file_and_video_materials_go_up_once_for_many_customers_and_again_after_three_days(live):
    sim = live.sim
    alice = live.staff("alice", "张晓")
    image, pdf, video, article = (make(live, kind, approve=True) for kind in ("image", "pdf", "video", "article"))
    code = services.create_channel_code(live.org, by=live.admin, name="门店海报", staff=[alice],
                                        welcome_text="你好，我是{staff_name}",
                                        welcome_attachments=[ref(image), ref(pdf), ref(video), ref(article)])

    for i in range(3):
        live.scan(code, name=f"客户{i}")
    sent = sim.welcomes()
    assert len(sent) == 3
    first = sent[0]["attachments"]
    assert [a["msgtype"] for a in first] == ["image", "file", "video", "link"]
    assert first[0]["image"]["pic_url"] in sim.state.uploaded_images
    assert sim.state.media[first[1]["file"]["media_id"]].filename == "guide.pdf"
    assert sim.state.media[first[2]["video"]["media_id"]].filename == "clip.mp4"
    # the article is a card to its tracked page, one address for this guide's welcome
    (tracked,) = TrackedLink.objects.for_org(live.org).filter(material=article)
    assert (tracked.channel, tracked.staff_id) == ("welcome", alice.pk)
    assert first[3]["link"]["url"] == links.url_of(tracked) and first[3]["link"]["title"] == article.title
    assert all(m["attachments"] == first for m in sent)  # the same uploads reused for every customer
    assert (live.calls("media/uploadimg", errcode=0), live.calls("media/upload", errcode=0)) == (1, 2)

    # Three days pass for WeCom and Siyu alike: the media ids have expired and are uploaded again.
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1), tick=True):
        for i in range(3, 5):
            live.scan(code, name=f"客户{i}")
    later = sim.welcomes()[3:]
    assert len(later) == 2
    assert (live.calls("media/uploadimg", errcode=0), live.calls("media/upload", errcode=0)) == (1, 4)
    assert later[0]["attachments"][0] == first[0]  # an uploadimg URL never expires
    assert later[0]["attachments"][1]["file"]["media_id"] != first[1]["file"]["media_id"]
    assert later[1]["attachments"] == later[0]["attachments"]
    assert set(WelcomeSend.objects.for_org(live.org).values_list("outcome", flat=True)) == {"sent"}


def test_a_material_withdrawn_after_being_chosen_is_skipped_and_warned_about(live):
    sim = live.sim
    alice = live.staff("alice", "张晓")
    link, pdf = make(live, "link", approve=True), make(live, "pdf", approve=True)
    code = services.create_channel_code(live.org, by=live.admin, name="门店海报", staff=[alice], welcome_text="你好",
                                        welcome_attachments=[ref(pdf), ref(link)])
    materials.withdraw_material(pdf, by=live.admin)

    live.scan(code, name="王女士")
    (message,) = sim.welcomes()
    assert message["text"] == {"content": "你好"}
    (card,) = message["attachments"]
    assert card["link"]["title"] == link.title and card["link"]["url"] == links.url_of(
        TrackedLink.objects.for_org(live.org).get(material=link, channel="welcome"))
    assert live.calls("media/upload") == 0

    client = client_for(live.admin)
    detail = client.get(f"/channels/{code.pk}/").content.decode()
    listing = client.get("/channels/welcome/").content.decode()
    for page in (detail, listing):
        assert 'data-testid="welcome-stale"' in page and pdf.title in page


def test_nothing_is_sent_when_only_withdrawn_materials_are_left(live):
    alice = live.staff("alice", "张晓")
    pdf = make(live, "pdf", approve=True)
    code = services.create_channel_code(live.org, by=live.admin, name="门店海报", staff=[alice],
                                        welcome_attachments=[ref(pdf)])
    materials.withdraw_material(pdf, by=live.admin)
    live.scan(code, name="王女士")
    assert live.sim.welcomes() == []
    assert WelcomeSend.objects.for_org(live.org).get().outcome == WelcomeSend.Outcome.NONE
    assert ChannelCode.objects.for_org(live.org).get().welcome_enabled


def test_a_known_customer_gets_their_own_tracked_link_and_media_stays_media(world):
    from tests.customers.test_list import make_customer, make_staff

    article, image = make(world, "article", approve=True), make(world, "image", approve=True)
    staff = make_staff(world.org, "zhangxiao", world.e1, world.guide_e1)
    wang, zhao = make_customer(world.org, "王女士", staff), make_customer(world.org, "赵小姐", staff)
    card, picture = welcome_materials.resolved(world.org.pk, [ref(article), ref(image)], customer=wang, staff=staff)
    again = welcome_materials.resolved(world.org.pk, [ref(article)], customer=wang, staff=staff)[0]
    other = welcome_materials.resolved(world.org.pk, [ref(article)], customer=zhao, staff=staff)[0]
    link = TrackedLink.objects.for_org(world.org).get(customer=wang)
    assert (link.material_id, link.channel, link.staff_id) == (article.pk, "welcome", staff.pk)
    assert card["link"]["url"] == again["link"]["url"] == links.url_of(link) != other["link"]["url"]
    assert picture == materials.to_attachment(image)  # an image goes as WeCom media, not as a card
