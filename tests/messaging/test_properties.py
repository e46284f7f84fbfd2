"""``plan`` against a brute-force evaluation of the same rules, one customer at a time, on random brands: random
consent histories, birth dates, protected tags, time zones, earlier sends (some never sent, some on other channels,
some promotional), receive rules, frequency caps and times of day."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.customers.models import Customer, RelationTag
from siyu.messaging import guard, reasons
from siyu.messaging.models import Decision, FrequencyCap, Policy, RecipientFacts, Send
from siyu.privacy.models import ConsentRecord
from tests.messaging.helpers import beijing, tag_customer

pytestmark = pytest.mark.django_db
INCLUDED, HELD, EXCLUDED = Decision.Outcome.INCLUDED, Decision.Outcome.HELD, Decision.Outcome.EXCLUDED
BEIJING = ZoneInfo("Asia/Shanghai")

customer_st = st.fixed_dictionaries({
    "consent": st.lists(st.tuples(st.booleans(), st.integers(-30, 30)), max_size=3),  # (granted, days before now)
    "age": st.sampled_from([None, 10, 17, 18, 40, 64, 65, 80]),
    "birthday_shift": st.integers(-1, 1),  # a day either side of the birthday
    "tagged": st.booleans(),
    "zone": st.sampled_from(["", "Europe/London", "America/New_York"]),
})
send_st = st.fixed_dictionaries({
    "channel": st.sampled_from(["mass_message", "sop"]),
    "promotional": st.booleans(),
    "sent_hours_ago": st.one_of(st.none(), st.integers(-48, 900), st.integers(0, 12)),  # often the same day
    "decided_minutes_before": st.integers(0, 120),
    "included": st.lists(st.booleans(), min_size=6, max_size=6),
})
brand_st = st.fixed_dictionaries({
    "customers": st.lists(customer_st, min_size=1, max_size=6),
    "sends": st.lists(send_st, max_size=10),
    "rule": st.sampled_from(Policy.ReceiveRule.values),
    "cap": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 10))),
    "quiet": st.sampled_from([(21, 9), (9, 21), (0, 6), (12, 12)]),
    "stale_hours": st.sampled_from([1, 8, 24]),
    "day": st.integers(1, 30),
    "minute_of_day": st.one_of(st.integers(0, 24 * 60 - 1), st.integers(18 * 60, 24 * 60 - 1)),
    "channel": st.sampled_from(["mass_message", "sop"]),
    "purpose": st.sampled_from(["marketing", "profiling", "service"]),
    "approved": st.booleans(),
})


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _period_start(rule: str, at: dt.datetime) -> tuple[int, dt.datetime]:
    local = at.astimezone(BEIJING)
    midnight = dt.datetime(local.year, local.month, local.day, tzinfo=BEIJING)
    if rule == "day1":
        return 1, midnight
    if rule == "week7":
        return 7, midnight - dt.timedelta(days=local.isoweekday() - 1)
    return calendar.monthrange(local.year, local.month)[1], dt.datetime(local.year, local.month, 1, tzinfo=BEIJING)


def _received(customer, at, since, sends) -> int:
    return sum(1 for d in Decision.objects.filter(customer=customer, outcome=INCLUDED).select_related("send")
               if d.send in sends and d.send.sent_at is not None and d.send.sent_at <= at
               and since <= d.decided_at <= at)


def brute(customer, *, at, purpose, channel, approved, policy, cap):
    """One customer, every rule in order, read row by row."""
    if purpose != "service":
        records = sorted(ConsentRecord.objects.filter(customer=customer, purpose=purpose, at__lte=at),
                         key=lambda r: (r.at, r.pk))
        if not records or not records[-1].granted:
            return EXCLUDED, reasons.NO_CONSENT, None
    approved_protection = False
    if purpose == "marketing":
        why = None
        facts = RecipientFacts.objects.filter(customer=customer).first()
        today = at.astimezone(BEIJING).date()
        if RelationTag.objects.filter(relation__customer=customer, tag_id__in=policy.protected_tag_ids).exists():
            why = reasons.PROTECTED_TAG
        elif facts and facts.birth_date and _age(facts.birth_date, today) < 18:
            why = reasons.MINOR
        elif facts and facts.birth_date and _age(facts.birth_date, today) >= 65:
            why = reasons.SENIOR
        if why and not approved:
            return EXCLUDED, why, None
        approved_protection = why is not None
    # WeCom counts every group message it carries, whichever feature sent it (reference §3.6).
    group_message_channels = {"mass_message", "sop", "journey"}
    if channel in group_message_channels:
        most, since = _period_start(policy.receive_rule, at)
        mass = [s for s in Send.objects.all() if s.channel in group_message_channels]
        if _received(customer, at, since, mass) >= most:
            return EXCLUDED, reasons.WECOM_LIMIT, None
    if purpose == "marketing" and cap is not None:
        promo = [s for s in Send.objects.all() if s.channel == channel and s.promotional]
        if _received(customer, at, at - dt.timedelta(days=cap.days), promo) >= cap.max_messages:
            return EXCLUDED, reasons.FREQUENCY_CAP, None
    facts = RecipientFacts.objects.filter(customer=customer).first()
    zone = ZoneInfo(facts.timezone if facts and facts.timezone else policy.timezone)
    local = at.astimezone(zone)
    minute = local.hour * 60 + local.minute + local.second / 60
    start, end = policy.quiet_start.hour * 60, policy.quiet_end.hour * 60
    quiet = (start < end and start <= minute < end) or (start > end and (minute >= start or minute < end))
    if quiet:
        release = local.replace(hour=policy.quiet_end.hour, minute=0, second=0, microsecond=0)
        while release <= local:
            release += dt.timedelta(days=1)
        if release - at > dt.timedelta(hours=policy.stale_after_hours):
            return EXCLUDED, reasons.STALE, None
        return HELD, reasons.QUIET_HOURS, release
    return INCLUDED, reasons.PROTECTED_APPROVED if approved_protection else "", None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(brand=brand_st)
def test_plan_agrees_with_a_customer_by_customer_evaluation(world, brand):
    with transaction.atomic():
        _check(world, brand)
        transaction.set_rollback(True)


def _check(world, brand):
    org = world.org
    at = beijing(2027, 4, brand["day"]) + dt.timedelta(minutes=brand["minute_of_day"])
    today = at.astimezone(BEIJING).date()
    made = []
    tag = None
    for i, spec in enumerate(brand["customers"]):
        customer = Customer.objects.create(org=org, external_userid=f"wp{i}", name=f"客户{i}")
        made.append(customer)
        for granted, days in spec["consent"]:
            ConsentRecord.objects.create(org=org, customer=customer, purpose="marketing", granted=granted,
                                         source="import", at=at - dt.timedelta(days=days))
        if spec["age"] is not None or spec["zone"]:
            birth = None
            if spec["age"] is not None:
                birth = guard.years_before(today, spec["age"]) + dt.timedelta(days=spec["birthday_shift"])
            RecipientFacts.objects.create(org=org, customer=customer, birth_date=birth, timezone=spec["zone"])
        if spec["tagged"]:
            tag = tag_customer(org, customer, "受保护")
    for n, spec in enumerate(brand["sends"]):
        sent_at = None if spec["sent_hours_ago"] is None else at - dt.timedelta(hours=spec["sent_hours_ago"])
        decided = (sent_at or at) - dt.timedelta(minutes=spec["decided_minutes_before"])
        send = Send.objects.create(org=org, kind="history", ref_id=n, channel=spec["channel"], purpose="marketing",
                                   promotional=spec["promotional"], planned_at=decided, sent_at=sent_at)
        Decision.objects.bulk_create([
            Decision(org=org, send=send, customer=c, outcome=INCLUDED if inc else EXCLUDED, decided_at=decided)
            for c, inc in zip(made, spec["included"], strict=False)])
    start, end = brand["quiet"]
    policy = Policy.objects.create(org=org, receive_rule=brand["rule"], quiet_start=dt.time(start),
                                   quiet_end=dt.time(end), stale_after_hours=brand["stale_hours"],
                                   protected_tag_ids=[tag.pk] if tag else [])
    cap = None
    if brand["cap"]:
        cap = FrequencyCap.objects.create(org=org, channel=brand["channel"], max_messages=brand["cap"][0],
                                          days=brand["cap"][1])
    result = guard.plan(org, send=("test.prop", 1), customer_ids=[c.pk for c in made], purpose=brand["purpose"],
                        channel=brand["channel"], content="春季新品", at=at,
                        approved_by=world.admin if brand["approved"] else None, dry_run=True)
    for customer in made:
        got = result.decisions[customer.pk]
        assert (got[0], got[1], got[3]) == brute(customer, at=at, purpose=brand["purpose"], channel=brand["channel"],
                                                 approved=brand["approved"], policy=policy, cap=cap)
