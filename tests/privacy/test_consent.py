"""Consent records: the latest record per customer and purpose decides, at any instant; the notice is versioned and
never edited; every change is on the timeline, in the domain events and (when a member made it) in the audit log;
bad input writes nothing; the customer's signed link cannot be altered."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from siyu.core.events import DomainEvent
from siyu.customers.models import Customer, TimelineEvent
from siyu.customers.profile import timeline_text
from siyu.orgs.models import AuditEntry
from siyu.privacy import consent
from siyu.privacy.consent import consent_state, consenting, grant_consent, withdraw_consent
from siyu.privacy.models import ConsentRecord, PrivacyNotice

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def customers(org, n: int, prefix: str = "wm") -> list[Customer]:
    return [Customer.objects.create(org=org, external_userid=f"{prefix}{i}", name=f"客户{i}") for i in range(n)]


def test_the_latest_record_at_the_instant_asked_decides(world):
    ann, bob, cat, dan = customers(world.org, 4)
    grant_consent(ann, "marketing", by=None, source="h5", at=T0)
    withdraw_consent(ann, "marketing", by=None, source="chat_stopword", at=T0 + 2 * HOUR)
    grant_consent(bob, "marketing", by=None, source="import", at=T0 + HOUR)
    grant_consent(cat, "profiling", by=None, source="h5", at=T0)  # another purpose: says nothing about marketing
    ids = [ann.pk, bob.pk, cat.pk, dan.pk]

    assert consenting(world.org, ids, "marketing", at=T0 - HOUR) == set()
    assert consenting(world.org, ids, "marketing", at=T0) == {ann.pk}  # a record at exactly that instant counts
    assert consenting(world.org, ids, "marketing", at=T0 + HOUR) == {ann.pk, bob.pk}
    assert consenting(world.org, ids, "marketing", at=T0 + 2 * HOUR) == {bob.pk}
    assert consenting(world.org, ids, "marketing") == {bob.pk}
    assert consenting(world.org, ids, "profiling") == {cat.pk}
    # Only the customers asked about are answered.
    assert consenting(world.org, [ann.pk, cat.pk], "marketing", at=T0 + HOUR) == {ann.pk}


def test_two_records_at_one_instant_the_later_row_wins(world):
    [ann] = customers(world.org, 1)
    grant_consent(ann, "marketing", by=None, source="import", at=T0)
    withdraw_consent(ann, "marketing", by=None, source="import", at=T0)
    assert consenting(world.org, [ann.pk], "marketing", at=T0) == set()
    grant_consent(ann, "marketing", by=None, source="import", at=T0)
    assert consenting(world.org, [ann.pk], "marketing", at=T0) == {ann.pk}


def test_a_record_dated_in_the_future_is_not_in_force_yet(world):
    [ann] = customers(world.org, 1)
    now = timezone.now()
    grant_consent(ann, "marketing", by=None, source="api", at=now - HOUR)
    withdraw_consent(ann, "marketing", by=None, source="api", at=now + HOUR)
    assert consenting(world.org, [ann.pk], "marketing") == {ann.pk}
    assert consent_state(world.org, ann.pk)["marketing"]["state"] == "granted"
    assert consenting(world.org, [ann.pk], "marketing", at=now + 2 * HOUR) == set()


def test_another_brands_records_never_count(world):
    [mine] = customers(world.org, 1)
    [theirs] = customers(world.other_org, 1, prefix="other")
    grant_consent(theirs, "marketing", by=None, source="h5", at=T0)
    assert consenting(world.org, [mine.pk, theirs.pk], "marketing") == set()
    assert consenting(world.other_org, [mine.pk, theirs.pk], "marketing") == {theirs.pk}


def test_many_customers_are_answered_in_chunks(world):
    rows = customers(world.org, 12)
    for c in rows[::2]:
        grant_consent(c, "location", by=None, source="h5", at=T0)
    expected = {c.pk for c in rows[::2]}
    # Ids far beyond the chunk size (nonexistent ones included) still give the exact answer.
    asked = [c.pk for c in rows] + list(range(10_000_000, 10_000_000 + 2 * consent.CHUNK))
    assert consenting(world.org, asked, "location") == expected


def test_consent_state_names_every_purpose(world):
    [ann] = customers(world.org, 1)
    notice = consent.publish_notice(world.org, title="隐私政策", body="正文", by=world.admin)
    grant_consent(ann, "marketing", by=None, source="h5", notice_version=notice.version, at=T0)
    withdraw_consent(ann, "profiling", by=None, source="console", at=T0)
    state = consent_state(world.org, ann.pk)
    assert state["marketing"] == {"state": "granted", "at": T0, "source": "h5", "notice_version": notice.version}
    assert state["profiling"]["state"] == "withdrawn"
    assert state["location"] == {"state": "unknown", "at": None, "source": None, "notice_version": None}
    assert "biometric" not in state


def test_bad_input_writes_nothing(world):
    [ann] = customers(world.org, 1)
    for purpose, source, version, field in [("biometric", "h5", None, "purpose"), ("marketing", "fax", None, "source"),
                                            ("marketing", "h5", 7, "notice_version")]:
        with pytest.raises(ValidationError) as error:
            grant_consent(ann, purpose, by=None, source=source, notice_version=version)
        assert field in error.value.message_dict
    assert not ConsentRecord.objects.for_org(world.org).exists()
    assert not TimelineEvent.objects.for_org(world.org).exists()
    with pytest.raises(ValueError):
        consenting(world.org, [ann.pk], "biometric")


def test_a_change_is_on_the_timeline_in_the_events_and_audited_when_a_member_made_it(world):
    [ann] = customers(world.org, 1)
    withdraw_consent(ann, "marketing", by=None, source="chat_stopword", evidence={"message_id": "m1"})
    grant_consent(ann, "profiling", by=world.admin, source="console")
    texts = [timeline_text(e) for e in TimelineEvent.objects.for_org(world.org).filter(kind="consent_changed")
             .order_by("pk")]
    assert texts == ["撤回了“营销消息”的授权（来源：聊天退订）", "同意了“用户画像”（来源：管理后台）"]
    events = DomainEvent.objects.for_org(world.org).filter(kind="consent.changed").order_by("pk")
    assert [(e.payload["purpose"], e.payload["granted"]) for e in events] == [("marketing", False), ("profiling", True)]
    audited = AuditEntry.objects.filter(org=world.org, action__startswith="privacy.consent_")
    assert [(a.action, a.actor_id) for a in audited] == [("privacy.consent_granted", world.admin.user_id)]


def test_the_person_is_recorded_when_the_cdp_knows_one(world):
    from siyu.cdp.identity import person_for_customer

    known, unknown = customers(world.org, 2)
    person = person_for_customer(known)
    assert grant_consent(known, "marketing", by=None, source="h5").person_id == person.pk
    assert grant_consent(unknown, "marketing", by=None, source="h5").person_id is None


def test_publishing_a_notice_adds_a_version_and_never_edits_the_old_one(world):
    first = consent.publish_notice(world.org, title="隐私政策", body="第一版", by=world.admin)
    second = consent.publish_notice(world.org, title="隐私政策（修订）", body="第二版", by=world.owner)
    other = consent.publish_notice(world.other_org, title="B 的政策", body="B", by=None)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    first.refresh_from_db()
    assert (first.title, first.body) == ("隐私政策", "第一版")
    assert consent.current_notice(world.org) == second
    entries = AuditEntry.objects.filter(org=world.org, action="privacy.notice_published").order_by("pk")
    assert [e.details["version"] for e in entries] == [1, 2]


def test_only_hq_publishes_and_a_notice_needs_words(world):
    with pytest.raises(PermissionDenied):
        consent.publish_notice(world.org, title="t", body="b", by=world.guide_e1)
    with pytest.raises(ValidationError) as error:
        consent.publish_notice(world.org, title=" ", body="", by=world.admin)
    assert set(error.value.message_dict) == {"title", "body"}
    assert not PrivacyNotice.objects.for_org(world.org).exists()


def test_the_link_names_its_customer_and_refuses_an_altered_token(world):
    [ann, bob] = customers(world.org, 2)
    token = consent.link_token(ann)
    assert consent.customer_for_token(token) == ann
    assert consent.customer_for_token(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert consent.customer_for_token(consent.link_token(bob)) == bob
    assert consent.customer_for_token("not-a-token") is None


def test_a_personal_information_export_holds_the_consent_records(world):
    import io
    import json
    import zipfile

    from siyu.cdp.identity import Ident, person_for_customer
    from siyu.privacy import requests

    [ann] = customers(world.org, 1)
    person_for_customer(ann)
    grant_consent(ann, "marketing", by=None, source="h5", evidence={"ip": "10.1.*.*"}, at=T0)
    withdraw_consent(ann, "marketing", by=None, source="chat_stopword", evidence={"message_id": "m9"}, at=T0 + HOUR)
    done = requests.export_subject(world.org, Ident("external_userid", ann.external_userid))
    data = json.loads(zipfile.ZipFile(io.BytesIO(requests.read_bundle(world.org.pk, done.file))).read("person.json"))
    [wecom] = data["wecom"]
    assert [(c["purpose"], c["granted"], c["source"], c["evidence"]) for c in wecom["consents"]] == [
        ("marketing", True, "h5", {"ip": "10.1.*.*"}), ("marketing", False, "chat_stopword", {"message_id": "m9"})]
