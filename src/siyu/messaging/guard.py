"""The policy guard: the one function every outbound message passes, deciding per recipient and recording why.

``plan`` is set-based: each rule is one query over the organization's rows (who consented, who carries a
protected tag, who already reached a cap), never one query per customer, and the audience is intersected with
those answers in memory. That is what lets a send to a million customers be planned in seconds.

A customer gets one decision, the first rule that stops them in this order: consent, protected people, WeCom's
receive cap, the brand's frequency cap, then quiet hours (held, not excluded). Blocked content stops the whole
send before anyone is decided, and nothing is written for it.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db.models import Count

from siyu.content.compliance import Finding, check
from siyu.core import clock
from siyu.customers.models import RelationTag
from siyu.messaging import reasons
from siyu.messaging.models import (WECOM_GROUP_MESSAGE_CHANNELS, Channel, Decision, FrequencyCap, Policy, RecipientFacts,
                                   Send)
from siyu.privacy.consent import consenting, latest_records
from siyu.privacy.models import Purpose

SERVICE = "service"  # a transactional message (an order notice, a reply): no marketing consent, no caps
PURPOSES = (*Purpose.values, SERVICE)
WECOM_TZ = ZoneInfo("Asia/Shanghai")  # WeCom counts its days, weeks and months in Beijing time
EXAMPLES = 5
# Above this many recipients a rule reads the whole brand's rows once instead of looking the audience up by id.
WHOLE_BRAND = 5_000
MINOR_AGE, SENIOR_AGE = 18, 65


@dataclass
class Plan:
    """Every recipient's decision for one send: ``decisions[customer_id] = (outcome, reason, detail, release_at)``."""

    org_id: int
    send_ref: tuple[str, int]
    channel: str
    purpose: str
    at: datetime
    findings: list[Finding]
    decisions: dict[int, tuple[str, str, str, datetime | None]] = field(default_factory=dict)
    approved_by: object = None
    written: bool = False

    @property
    def blocked(self) -> bool:
        return any(f.severity == "block" for f in self.findings)

    @property
    def promotional(self) -> bool:
        return self.purpose == Purpose.MARKETING

    def ids(self, outcome: str) -> set[int]:
        return {pk for pk, d in self.decisions.items() if d[0] == outcome}

    def counts(self) -> Counter:
        """Recipients per outcome (``included``, ``held``, ``excluded``)."""
        return Counter(d[0] for d in self.decisions.values())

    def reason_counts(self) -> Counter:
        """Recipients per reason code (the included without a reason are not counted)."""
        return Counter(d[1] for d in self.decisions.values() if d[1])


def send_ref(send) -> tuple[str, int]:
    """A send named by a ``(kind, id)`` pair or by its model row (``mass.MassMessage`` #5 →
    ``("mass.massmessage", 5)``)."""
    if isinstance(send, tuple):
        kind, ref_id = send
        return str(kind), int(ref_id)
    return send._meta.label_lower, int(send.pk)


def policy_of(org) -> Policy:
    """The organization's saved policy, or the defaults (unsaved) before it is first saved."""
    org_id = getattr(org, "pk", org)
    return Policy.objects.for_org(org_id).first() or Policy(org_id=org_id)


def plan(org, *, send, customer_ids, purpose: str, channel: str, content: str, at: datetime | None = None,
         approved_by=None, dry_run: bool = False) -> Plan:
    """Decide for every customer in ``customer_ids`` whether this send reaches them now, is held, or excluded, and
    why; unless ``dry_run``, store the decisions (and the send) through :mod:`siyu.messaging.services`.

    ``purpose`` is a consent purpose (``marketing`` makes the send promotional) or ``service``. ``approved_by``, a
    membership allowed ``messaging.manage``, lets protected people receive this one promotional send.
    """
    from siyu.messaging import services

    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if approved_by is not None and not approved_by.can("messaging.manage"):
        raise PermissionDenied("messaging.manage")
    org_id = getattr(org, "pk", org)
    at = at or clock.now()
    ref = send_ref(send)
    result = Plan(org_id, ref, channel, purpose, at, check(content, org=org_id), approved_by=approved_by)
    audience = {int(pk) for pk in customer_ids}
    if result.blocked:
        result.decisions = dict.fromkeys(audience, (Decision.Outcome.EXCLUDED, reasons.CONTENT_BLOCKED, "", None))
        return result
    _decide(result, audience, policy_of(org_id))
    if not dry_run:
        services.record_plan(result, content=content)
    return result


def _decide(result: Plan, audience: set[int], policy: Policy) -> None:
    org_id, at = result.org_id, result.at
    out = result.decisions
    undecided = set(audience)

    def exclude(found: dict[int, str], reason: str) -> None:
        for pk in undecided & found.keys():
            out[pk] = (Decision.Outcome.EXCLUDED, reason, found[pk], None)
        undecided.difference_update(found.keys())

    if result.purpose != SERVICE:
        allowed = _consenting(org_id, undecided, result.purpose, at)
        exclude({pk: result.purpose for pk in undecided - allowed}, reasons.NO_CONSENT)
    if result.promotional:
        protected = _protected(org_id, policy, at)
        if result.approved_by is not None:
            for pk in undecided & protected.keys():
                out[pk] = (Decision.Outcome.INCLUDED, reasons.PROTECTED_APPROVED, protected[pk][1], None)
        else:
            for code in (reasons.PROTECTED_TAG, reasons.MINOR, reasons.SENIOR):
                exclude({pk: detail for pk, (why, detail) in protected.items() if why == code}, code)
    if result.channel in WECOM_GROUP_MESSAGE_CHANNELS:
        exclude(_wecom_capped(org_id, policy, at, result.send_ref), reasons.WECOM_LIMIT)
    if result.promotional:
        exclude(_frequency_capped(org_id, result.channel, at, result.send_ref), reasons.FREQUENCY_CAP)
    held, stale = _quiet(org_id, policy, at, undecided)
    exclude(stale, reasons.STALE)
    for pk in undecided & held.keys():
        out[pk] = (Decision.Outcome.HELD, reasons.QUIET_HOURS, "", held[pk])
    undecided.difference_update(held.keys())
    for pk in undecided:
        if pk not in out:
            out[pk] = (Decision.Outcome.INCLUDED, "", "", None)


# -- the rules, one query each ---------------------------------------------------------------------------------------


def _consenting(org_id: int, audience: set[int], purpose: str, at: datetime) -> set[int]:
    """Who in ``audience`` consents to ``purpose`` at ``at``: asked by id for a small audience, else read once for
    the whole brand (the same latest-record rule) — a million ids in chunks costs several times more."""
    if len(audience) <= WHOLE_BRAND:
        return consenting(org_id, audience, purpose, at=at)
    granted = latest_records(org_id, purpose, at=at).filter(granted=True).values_list("customer_id", flat=True)
    return audience.intersection(granted)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 February becomes the 28th in a year without it."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _protected(org_id: int, policy: Policy, at: datetime) -> dict[int, tuple[str, str]]:
    """Protected people: ``{customer_id: (reason, detail)}`` — a protected tag first, then a known age."""
    found: dict[int, tuple[str, str]] = {}
    today = at.astimezone(ZoneInfo(policy.timezone)).date()
    minor_cut, senior_cut = years_before(today, MINOR_AGE), years_before(today, SENIOR_AGE)
    ages = RecipientFacts.objects.for_org(org_id).filter(birth_date__isnull=False)
    if policy.protect_minors:
        found.update((pk, (reasons.MINOR, "")) for pk in
                     ages.filter(birth_date__gt=minor_cut).values_list("customer_id", flat=True))
    if policy.protect_seniors:
        found.update((pk, (reasons.SENIOR, "")) for pk in
                     ages.filter(birth_date__lte=senior_cut).values_list("customer_id", flat=True))
    if policy.protected_tag_ids:
        tagged = (RelationTag.objects.for_org(org_id).filter(tag_id__in=policy.protected_tag_ids, tag__deleted=False)
                  .values_list("relation__customer_id", "tag__name"))
        found.update((pk, (reasons.PROTECTED_TAG, name)) for pk, name in tagged)
    return found


def receive_cap(rule: str, at: datetime) -> tuple[int, datetime]:
    """WeCom's cap for enterprise mass messages under ``rule`` and the start of the period ``at`` falls in: the
    calendar month (as many as it has days), the calendar week from Monday (7) or the day (1), Beijing time —
    as the simulator and reference §3.6 count them."""
    day = at.astimezone(WECOM_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    if rule == Policy.ReceiveRule.WEEK:
        return 7, day - timedelta(days=day.weekday())
    if rule == Policy.ReceiveRule.DAY:
        return 1, day
    return calendar.monthrange(day.year, day.month)[1], day.replace(day=1)


def _received(org_id: int, sends, since: datetime, at: datetime, at_least: int, ref: tuple[str, int]) -> dict[int, str]:
    """Customers with ``at_least`` included decisions since ``since`` among ``sends`` that went out (this send
    itself left out, so re-planning it never counts it against itself): ``{customer_id: "n/cap"}``."""
    sends = sends.filter(sent_at__isnull=False, sent_at__lte=at).exclude(kind=ref[0], ref_id=ref[1])
    counted = (Decision.objects.for_org(org_id)
               .filter(send__in=sends, outcome=Decision.Outcome.INCLUDED, decided_at__gte=since, decided_at__lte=at)
               .values("customer_id").annotate(n=Count("id")).filter(n__gte=at_least)
               .values_list("customer_id", "n"))
    return {pk: f"{n}/{at_least}" for pk, n in counted}


def _wecom_capped(org_id: int, policy: Policy, at: datetime, ref) -> dict[int, str]:
    cap, since = receive_cap(policy.receive_rule, at)
    sends = Send.objects.for_org(org_id).filter(channel__in=WECOM_GROUP_MESSAGE_CHANNELS)
    return _received(org_id, sends, since, at, cap, ref)


def _frequency_capped(org_id: int, channel: str, at: datetime, ref) -> dict[int, str]:
    cap = FrequencyCap.objects.for_org(org_id).filter(channel=channel).first()
    if cap is None:
        return {}
    sends = Send.objects.for_org(org_id).filter(channel=channel, promotional=True)
    return _received(org_id, sends, at - timedelta(days=cap.days), at, cap.max_messages, ref)


def quiet_release(policy: Policy, tz: ZoneInfo, at: datetime) -> datetime | None:
    """When the quiet window ``at`` falls in opens again (UTC), or None outside quiet hours. The window may span
    midnight (21:00–09:00); equal start and end means no quiet hours."""
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return None
    local = at.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    quiet = start <= now < end if start < end else (now >= start or now < end)
    if not quiet:
        return None
    opens = datetime.combine(local.date(), end, tzinfo=tz)
    if opens <= local:
        opens = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return opens.astimezone(ZoneInfo("UTC"))


def _quiet(org_id: int, policy: Policy, at: datetime, audience: set[int]) -> tuple[dict, dict]:
    """Customers to hold ``{id: release time}`` and those whose release would come after the staleness limit."""
    zones = dict(RecipientFacts.objects.for_org(org_id).exclude(timezone="").values_list("customer_id", "timezone"))
    stale_after = timedelta(hours=policy.stale_after_hours)
    releases: dict[str, datetime | None] = {}
    held, stale = {}, {}
    default = policy.timezone
    for pk in audience:
        zone = zones.get(pk, default)
        if zone not in releases:
            releases[zone] = quiet_release(policy, ZoneInfo(zone), at)
        release = releases[zone]
        if release is None:
            continue
        if release - at > stale_after:
            stale[pk] = ""
        else:
            held[pk] = release
    return held, stale


# -- customer groups -------------------------------------------------------------------------------------------------
@dataclass
class GroupPlan:
    """A group send's decision per customer group: ``decisions[chat_id] = (outcome, reason, detail)``. Groups have
    no consent or protected status of their own; WeCom's receive cap and the content checks apply to them."""

    findings: list[Finding]
    decisions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    release: datetime | None = None  # when the held groups go out (the quiet window opens)

    @property
    def blocked(self) -> bool:
        return any(f.severity == "block" for f in self.findings)

    def ids(self, outcome: str) -> list[str]:
        return sorted(chat for chat, d in self.decisions.items() if d[0] == outcome)


def plan_groups(org, *, chat_ids, content: str, at: datetime | None = None, message_id: int | None = None) -> GroupPlan:
    """Decide for each customer group whether this group send reaches it: blocked content stops every group, a
    group that already received its cap of enterprise mass messages this period (reference §3.6: "每个客户群
    每月最多接收当月天数条", or the organization's 7 a week / 1 a day) is left out, and in the brand's quiet hours
    the others are held until the window opens. ``message_id`` (this send)
    is never counted against itself. Nothing is written: the caller stores the answer with its tasks."""
    org_id = getattr(org, "pk", org)
    at = at or clock.now()
    result = GroupPlan(check(content, org=org_id))
    chats = sorted(set(chat_ids))
    if result.blocked:
        result.decisions = dict.fromkeys(chats, (Decision.Outcome.EXCLUDED, reasons.CONTENT_BLOCKED, ""))
        return result
    policy = policy_of(org_id)
    capped = group_received(org_id, policy, at, set(chats), message_id=message_id)
    # A group has no time zone of its own: its members wake by the brand's clock, so quiet hours hold the whole
    # send until the brand's window opens (or drop it when that is after the staleness limit).
    release = quiet_release(policy, ZoneInfo(policy.timezone), at)
    if release is None:
        waiting = (Decision.Outcome.INCLUDED, "", "")
    elif release - at > timedelta(hours=policy.stale_after_hours):
        waiting = (Decision.Outcome.EXCLUDED, reasons.STALE, "")
    else:
        waiting, result.release = (Decision.Outcome.HELD, reasons.QUIET_HOURS, release.isoformat()), release
    for chat in chats:
        if chat in capped:
            result.decisions[chat] = (Decision.Outcome.EXCLUDED, reasons.WECOM_LIMIT, capped[chat])
        else:
            result.decisions[chat] = waiting
    return result


def group_received(org_id: int, policy: Policy, at: datetime, chats: set[str], *, message_id=None) -> dict[str, str]:
    """Groups in ``chats`` that reached the receive cap: ``{chat_id: "n/cap"}``. A group received a message when
    its owner confirmed the group task that names it (WeCom counts what was sent, not what was planned)."""
    from siyu.messaging.models import MassTask

    cap, since = receive_cap(policy.receive_rule, at)
    tasks = (MassTask.objects.for_org(org_id).exclude(chat_ids=[])
             .filter(confirmed_at__gte=since, confirmed_at__lte=at))
    if message_id is not None:
        tasks = tasks.exclude(message_id=message_id)
    received = Counter()
    for chat_ids in tasks.values_list("chat_ids", flat=True).iterator(chunk_size=2000):
        received.update(chats.intersection(chat_ids))
    return {chat: f"{n}/{cap}" for chat, n in received.items() if n >= cap}
