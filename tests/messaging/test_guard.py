"""The policy guard decides per recipient and says why: WeCom's receive cap under each of its three rules, the
brand's frequency caps, quiet hours (held, then released when the clock moves, or dropped when stale), protected
people unless an admin approves that one send, consent, and blocked content stopping the whole send."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from siyu.core.events import DomainEvent
from siyu.messaging import guard, reasons, services
from siyu.messaging.dryrun import dry_run
from siyu.messaging.models import Decision, FrequencyCap, Policy, Send
from siyu.orgs.models import AuditEntry
from siyu.privacy.consent import withdraw_consent
from tests.messaging.helpers import beijing, born, customers, plan, send_out, set_policy, tag_customer

pytestmark = pytest.mark.django_db
INCLUDED, HELD, EXCLUDED = Decision.Outcome.INCLUDED, Decision.Outcome.HELD, Decision.Outcome.EXCLUDED


def outcome(result, customer):
    return result.decisions[customer.pk][:2]


def test_in_a_month_of_30_days_the_31st_mass_message_is_excluded(world):
    full, one_short = customers(world.org, 2)
    for day in range(1, 31):  # April 2027 has 30 days: one mass message a day at noon
        send_out(world.org, [full.pk] if day == 30 else [full.pk, one_short.pk], beijing(2027, 4, day, 12))
    result = plan(world.org, [full.pk, one_short.pk], beijing(2027, 4, 30, 15))
    assert outcome(result, full) == (EXCLUDED, reasons.WECOM_LIMIT)
    assert result.decisions[full.pk][2] == "30/30"
    assert outcome(result, one_short) == (INCLUDED, "")
    # A new month starts a new count; a send planned but never sent counts for nothing.
    assert outcome(plan(world.org, [full.pk], beijing(2027, 5, 1, 10)), full) == (INCLUDED, "")


def test_a_send_that_did_not_go_out_does_not_count(world):
    [ann] = customers(world.org, 1)
    set_policy(world.org, receive_rule=Policy.ReceiveRule.DAY)
    plan(world.org, [ann.pk], beijing(2027, 4, 1, 10))  # planned, never marked sent
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 1, 11)), ann) == (INCLUDED, "")


def test_one_a_day_excludes_the_second_of_the_day(world):
    [ann] = customers(world.org, 1)
    set_policy(world.org, receive_rule=Policy.ReceiveRule.DAY)
    send_out(world.org, [ann.pk], beijing(2027, 4, 1, 10))
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 1, 20)), ann) == (EXCLUDED, reasons.WECOM_LIMIT)
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 2, 10)), ann) == (INCLUDED, "")
    # An SOP's one-tap send is a WeCom group message too: WeCom counts it, so the guard does.
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 1, 20), channel="sop"), ann) == (EXCLUDED, reasons.WECOM_LIMIT)
    # A moment is not: WeCom limits moments separately.
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 1, 20), channel="moment"), ann) == (INCLUDED, "")


def test_seven_a_week_excludes_the_eighth_of_the_week(world):
    [ann] = customers(world.org, 1)
    set_policy(world.org, receive_rule=Policy.ReceiveRule.WEEK)
    for day in range(5, 12):  # Monday 5 April 2027 to Sunday the 11th
        send_out(world.org, [ann.pk], beijing(2027, 4, day, 10))
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 11, 18)), ann) == (EXCLUDED, reasons.WECOM_LIMIT)
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 12, 10)), ann) == (INCLUDED, "")  # a new week


def test_the_brands_frequency_cap_counts_promotional_sends_of_its_channel(world):
    ann, bob = customers(world.org, 2)
    FrequencyCap.objects.create(org=world.org, channel="sop", max_messages=2, days=7)
    send_out(world.org, [ann.pk, bob.pk], beijing(2027, 4, 1, 10), channel="sop")
    send_out(world.org, [ann.pk], beijing(2027, 4, 3, 10), channel="sop")
    send_out(world.org, [bob.pk], beijing(2027, 4, 3, 10), channel="sop", purpose="service")  # not promotional
    result = plan(world.org, [ann.pk, bob.pk], beijing(2027, 4, 7, 10), channel="sop")
    assert outcome(result, ann) == (EXCLUDED, reasons.FREQUENCY_CAP)
    assert outcome(result, bob) == (INCLUDED, "")
    # Seven days after the first one, it no longer counts.
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 8, 10, 1), channel="sop"), ann) == (INCLUDED, "")


def test_quiet_hours_hold_until_the_window_opens_then_release(world, clock):
    ann, london = customers(world.org, 2)
    born(london, None, "Europe/London")  # 22:00 in Beijing is 15:00 in London
    at = beijing(2027, 4, 1, 22)
    clock.set(at)
    result = plan(world.org, [ann.pk, london.pk], None)
    assert outcome(result, ann) == (HELD, reasons.QUIET_HOURS)
    assert result.decisions[ann.pk][3] == beijing(2027, 4, 2, 9)
    assert outcome(result, london) == (INCLUDED, "")

    clock.set(beijing(2027, 4, 2, 8, 59))
    assert services.release_held(world.org) == {}
    clock.set(beijing(2027, 4, 2, 9))
    [(send_id, released)] = services.release_held(world.org).items()
    assert released == {ann.pk}
    row = Decision.objects.for_org(world.org).get(send_id=send_id, customer=ann)
    assert (row.outcome, row.reason) == (INCLUDED, "")
    assert dt.timedelta(0) <= row.decided_at - beijing(2027, 4, 2, 9) < dt.timedelta(seconds=5)  # the clock ticks on
    assert services.release_held(world.org) == {}  # released once
    event = DomainEvent.objects.get(kind="messaging.held_released")
    assert (event.subject_id, event.payload) == (send_id, {"customer_ids": [ann.pk]})


def test_a_held_message_is_dropped_when_it_would_be_stale(world, clock):
    [ann] = customers(world.org, 1)
    set_policy(world.org, stale_after_hours=6)
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 1, 22)), ann) == (EXCLUDED, reasons.STALE)
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 2, 4)), ann) == (HELD, reasons.QUIET_HOURS)
    # A release the dispatcher reaches only after the limit drops it too.
    clock.set(beijing(2027, 4, 2, 10, 1))
    [(send_id, released)] = services.release_held(world.org).items()
    assert released == set()
    assert Decision.objects.for_org(world.org).get(send_id=send_id).reason == reasons.STALE


def test_blocked_words_stop_the_whole_send_with_their_spans(world):
    ann, bob = customers(world.org, 2)
    text = "全网最低价！国家级品质，欢迎选购"
    result = plan(world.org, [ann.pk, bob.pk], beijing(2027, 4, 1, 10), content=text)
    assert result.blocked and not result.written
    blocked = {(f.term, f.start, f.end) for f in result.findings if f.severity == "block"}
    assert {("全网最低价", 0, 5), ("国家级", 6, 9)} <= blocked
    assert result.reason_counts() == {reasons.CONTENT_BLOCKED: 2}
    assert not Decision.objects.for_org(world.org).exists() and not Send.objects.for_org(world.org).exists()
    summary = dry_run(world.org, send=("test.send", 1), customer_ids=[ann.pk], purpose="marketing",
                      channel="mass_message", content=text, at=beijing(2027, 4, 1, 10))
    assert '">全网最低价</mark>' in summary.highlighted and '">国家级</mark>' in summary.highlighted
    assert summary.blocked and summary.included == 0


def test_protected_people_are_excluded_unless_an_admin_approves_the_send(world):
    tagged, senior, minor, adult, unknown = customers(world.org, 5)
    tag = tag_customer(world.org, tagged, "重疾康复")
    at = beijing(2027, 4, 1, 10)
    born(senior, dt.date(1962, 4, 1))  # 65 that very day
    born(minor, dt.date(2009, 4, 2))  # 18 tomorrow
    born(adult, dt.date(2009, 4, 1))
    set_policy(world.org, protected_tag_ids=[tag.pk])
    ids = [c.pk for c in (tagged, senior, minor, adult, unknown)]
    result = plan(world.org, ids, at)
    assert outcome(result, tagged) == (EXCLUDED, reasons.PROTECTED_TAG)
    assert outcome(result, senior) == (EXCLUDED, reasons.SENIOR)
    assert outcome(result, minor) == (EXCLUDED, reasons.MINOR)
    assert result.ids(INCLUDED) == {adult.pk, unknown.pk}
    # Service messages are not promotional: nobody is protected from them.
    assert plan(world.org, ids, at, purpose="service").ids(INCLUDED) == set(ids)
    assert not AuditEntry.objects.filter(action="messaging.protected_approved").exists()

    with pytest.raises(PermissionDenied):
        plan(world.org, ids, at, approved_by=world.guide_e1)
    approved = plan(world.org, ids, at, approved_by=world.admin)
    assert approved.ids(INCLUDED) == set(ids)
    assert approved.reason_counts() == {reasons.PROTECTED_APPROVED: 3}
    entry = AuditEntry.objects.get(action="messaging.protected_approved")
    assert entry.actor == world.admin.user and entry.details["count"] == 3
    assert entry.details["ref_id"] == approved.send_ref[1]


def test_a_withdrawn_customer_is_excluded_and_the_dry_run_counts_the_reason(world):
    ann, bob, cat = customers(world.org, 3)
    withdraw_consent(bob, "marketing", by=None, source="h5", at=beijing(2027, 3, 1, 10))
    withdraw_consent(cat, "marketing", by=None, source="chat_stopword", at=beijing(2027, 3, 2, 10))
    ids = [ann.pk, bob.pk, cat.pk]
    summary = dry_run(world.org, send=("test.send", 1), customer_ids=ids, purpose="marketing",
                      channel="mass_message", content="周末到店有礼", at=beijing(2027, 4, 1, 10))
    assert (summary.total, summary.included, summary.held, summary.excluded) == (3, 1, 0, 2)
    [row] = summary.reasons
    assert (row.code, row.count, row.label) == (reasons.NO_CONSENT, 2, "未授权该用途")
    assert row.examples == ["张***", "张***"]  # masked names
    assert not Decision.objects.for_org(world.org).exists()  # a dry run writes nothing
    # Consent is read at the send's instant: before the withdrawal, bob was in.
    assert plan(world.org, ids, beijing(2027, 2, 1, 10)).ids(INCLUDED) == set(ids)


def test_decisions_are_stored_once_per_customer_and_replanning_replaces_them(world):
    ann, bob = customers(world.org, 2)
    withdraw_consent(bob, "marketing", by=None, source="h5", at=beijing(2027, 3, 1, 10))
    send = ("test.rerun", 7)
    guard.plan(world.org, send=send, customer_ids=[ann.pk, bob.pk], purpose="marketing", channel="moment",
               content="新品", at=beijing(2027, 4, 1, 10))
    guard.plan(world.org, send=send, customer_ids=[ann.pk], purpose="marketing", channel="moment",
               content="新品", at=beijing(2027, 4, 1, 23))
    rows = {r.customer_id: (r.outcome, r.reason, r.detail) for r in Decision.objects.for_org(world.org)}
    assert rows == {ann.pk: (HELD, reasons.QUIET_HOURS, ""), bob.pk: (EXCLUDED, reasons.NO_CONSENT, "marketing")}
    assert Send.objects.for_org(world.org).get().planned_at == beijing(2027, 4, 1, 10)


def test_another_brands_history_counts_for_nothing(world):
    [ann] = customers(world.org, 1)
    [other] = customers(world.other_org, 1, prefix="x")
    set_policy(world.other_org, receive_rule=Policy.ReceiveRule.DAY)
    set_policy(world.org, receive_rule=Policy.ReceiveRule.DAY)
    send_out(world.other_org, [other.pk], beijing(2027, 4, 1, 10))
    assert outcome(plan(world.org, [ann.pk], beijing(2027, 4, 1, 11)), ann) == (INCLUDED, "")


def test_a_large_audience_reads_consent_for_the_whole_brand_with_the_same_answer(world):
    from siyu.customers.models import Customer
    from siyu.privacy.models import ConsentRecord

    n = guard.WHOLE_BRAND + 1
    made = Customer.objects.bulk_create([Customer(org=world.org, external_userid=f"wb{i}", name="客户")
                                         for i in range(n)])
    early, late = beijing(2027, 3, 1, 10), beijing(2027, 3, 20, 10)
    records = [ConsentRecord(org=world.org, customer=c, purpose="marketing", granted=True, source="import", at=early)
               for c in made[: n - 3]]  # the last three never consented
    records += [ConsentRecord(org=world.org, customer=c, purpose="marketing", granted=False, source="h5", at=late)
                for c in made[:2]]  # withdrew later
    records += [ConsentRecord(org=world.org, customer=made[2], purpose="marketing", granted=False, source="h5",
                              at=beijing(2027, 5, 1, 10))]  # withdraws after the send: still in
    ConsentRecord.objects.bulk_create(records)
    [stranger] = customers(world.other_org, 1, prefix="x")  # another brand's consent answers nothing here
    ids = [c.pk for c in made] + [stranger.pk]
    result = plan(world.org, ids, beijing(2027, 4, 1, 10), channel="sop", dry_run=True)
    expected = {made[0].pk, made[1].pk, *(c.pk for c in made[-3:]), stranger.pk}
    assert {pk for pk, d in result.decisions.items() if d[1] == reasons.NO_CONSENT} == expected
    assert len(result.ids(INCLUDED)) == n - 5
