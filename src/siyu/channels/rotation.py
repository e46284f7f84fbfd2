"""Which staff a channel code hands its next customer to, and keeping WeCom's contact way in step.

WeCom itself rotates among the users of a contact way (round-robin over its ``user`` list), so a policy is
applied by rewriting that list with ``update_contact_way`` whenever the policy picks a different set:

* **round_robin**: every primary staff member; WeCom alternates among them.
* **time_slots**: the staff of the slots that cover the current Beijing weekday and time.
* **daily_cap**: the primary staff who have had fewer than the cap of adds through this code today.

When the policy picks nobody (all full, no slot covers the hour, or everyone left) the backup staff take over;
when there are none either, the list is left as it is (WeCom refuses an empty one). The set is re-evaluated
after every add through a capped code (:class:`~siyu.channels.models.RotationSync`, one row per code) and every
minute for slot boundaries and midnight (:func:`refresh_rotations`, a periodic task). Adds that arrive while a
rewrite is on its way follow the old list: WeCom picks the member at scan time, so a cap is as exact as the
callbacks are prompt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Count
from django.utils import timezone

from siyu.channels.models import ChannelCode, ChannelStaff, CustomerChannel, RotationSync
from siyu.core.durable import DurableRow, PermanentFailure, RetryLater
from siyu.orgs.models import Organization, Staff
from siyu.wecom import endpoints
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import InvalidParameter, NotConnected, RateLimited, WeComError

log = logging.getLogger(__name__)

MINUTES_PER_DAY = 24 * 60
RETRY_SECONDS = 30


@dataclass(frozen=True)
class Slot:
    days: frozenset[int]  # Monday = 0
    start: int  # minutes after midnight, inclusive
    end: int  # minutes after midnight, exclusive (1440 = midnight)
    staff_ids: tuple[int, ...]

    def covers(self, moment: datetime) -> bool:
        local = timezone.localtime(moment)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start <= minute < self.end


def minutes_of(value: str) -> int:
    """``"HH:MM"`` (``"24:00"`` allowed) as minutes after midnight; ValueError when malformed."""
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(value)
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MINUTES_PER_DAY:
        raise ValueError(value)
    return total


def slots_of(raw: list[dict]) -> list[Slot]:
    return [
        Slot(frozenset(int(d) for d in s.get("days", [])), minutes_of(s["start"]), minutes_of(s["end"]),
             tuple(int(i) for i in s.get("staff", [])))
        for s in raw or []
    ]


def day_start(moment: datetime) -> datetime:
    """Midnight (Beijing time, the console's time zone) of the day ``moment`` falls on."""
    local = timezone.localtime(moment)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def adds_today(code: ChannelCode, moment: datetime) -> dict[int, int]:
    """Adds through ``code`` per staff id since midnight (an add = a relation whose latest add was today)."""
    rows = (
        CustomerChannel.objects.for_org(code.org_id)
        .filter(code=code, last_at__gte=day_start(moment), last_at__lt=day_start(moment) + timedelta(days=1))
        .values("staff_id").annotate(n=Count("id"))
    )
    return {row["staff_id"]: row["n"] for row in rows}


def pick(
    policy: str, primary: list[Staff], backup: list[Staff], *, slots: list[Slot] = (), daily_cap: int | None = None,
    counts: dict[int, int] | None = None, now: datetime,
) -> list[Staff]:
    """The staff who should receive the next customer (pure: everything it needs is passed in).

    ``primary`` and ``backup`` are in the operator's order; inactive staff are skipped.
    """
    primary = [s for s in primary if s.status == Staff.Status.ACTIVE]
    backup = [s for s in backup if s.status == Staff.Status.ACTIVE]
    if policy == ChannelCode.Policy.TIME_SLOTS:
        wanted = {i for slot in slots if slot.covers(now) for i in slot.staff_ids}
        chosen = [s for s in primary if s.pk in wanted]
    elif policy == ChannelCode.Policy.DAILY_CAP and daily_cap:
        counts = counts or {}
        chosen = [s for s in primary if counts.get(s.pk, 0) < daily_cap]
    else:
        chosen = primary
    return chosen or backup


def staff_of(code: ChannelCode) -> tuple[list[Staff], list[Staff]]:
    links = ChannelStaff.objects.for_org(code.org_id).filter(code=code).select_related("staff").order_by("position", "id")
    primary = [link.staff for link in links if link.role == ChannelStaff.Role.PRIMARY]
    backup = [link.staff for link in links if link.role == ChannelStaff.Role.BACKUP]
    return primary, backup


def desired_staff(code: ChannelCode, *, now: datetime | None = None) -> list[Staff]:
    """The staff ``code``'s contact way should list at ``now``, by its policy."""
    now = now or timezone.now()
    primary, backup = staff_of(code)
    counts = adds_today(code, now) if code.policy == ChannelCode.Policy.DAILY_CAP else None
    return pick(code.policy, primary, backup, slots=slots_of(code.time_slots), daily_cap=code.daily_cap,
                counts=counts, now=now)


def sync_rotation(code: ChannelCode, *, now: datetime | None = None, client: WeComClient | None = None) -> bool:
    """Rewrite the contact way's staff when the policy now picks a different set; True when WeCom was called."""
    now = now or timezone.now()
    if code.status != ChannelCode.Status.ACTIVE or not code.config_id:
        return False
    userids = [s.userid for s in desired_staff(code, now=now)]
    if not userids:
        log.warning("channel code %s: nobody can receive customers; the contact way keeps %s", code.pk, code.current_userids)
        return False
    if userids == list(code.current_userids):
        return False
    own = client is None
    client = client or WeComClient.for_org(code.org)
    try:
        endpoints.update_contact_way(client, {"config_id": code.config_id, "user": userids})
    finally:
        if own:
            client.close()
    ChannelCode.objects.for_org(code.org_id).filter(pk=code.pk).update(current_userids=userids, rotated_at=now)
    code.current_userids = userids
    return True


def wake(code: ChannelCode, *, delay: float = 0) -> None:
    """Ask for a re-evaluation of ``code``'s staff (one row per code, re-armed; concurrent wakes collapse)."""
    due = timezone.now() + timedelta(seconds=delay)
    row, created = RotationSync.objects.for_org(code.org_id).get_or_create(
        org_id=code.org_id, idempotency_key=f"rotation:{code.pk}", defaults={"code": code, "due_at": due},
    )
    if not created and not (row.status == DurableRow.Status.PENDING and row.due_at <= due):
        RotationSync.objects.for_org(code.org_id).filter(pk=row.pk).update(
            status=DurableRow.Status.PENDING, due_at=due, lease_until=None, lease_owner="", attempts=0,
            finished_at=None, last_error="",
        )


def perform_sync(row: RotationSync) -> None:
    code = ChannelCode.objects.for_org(row.org_id).select_related("org").get(pk=row.code_id)
    try:
        sync_rotation(code)
    except RateLimited as error:
        raise RetryLater(error.retry_after, str(error)) from error
    except (InvalidParameter, NotConnected) as error:
        raise PermanentFailure(f"{error} ({error.hint})") from error


def refresh_rotations(*, now: datetime | None = None) -> int:
    """Re-evaluate every active code whose pick depends on the clock (time slots; daily caps at midnight).

    Run every minute; a code whose rewrite fails is simply tried again on the next run. Returns how many
    contact ways were rewritten.
    """
    now = now or timezone.now()
    rewritten = 0
    timed = [ChannelCode.Policy.TIME_SLOTS, ChannelCode.Policy.DAILY_CAP]
    for org in Organization.objects.filter(is_active=True):
        codes = ChannelCode.objects.for_org(org).filter(status=ChannelCode.Status.ACTIVE, policy__in=timed).exclude(config_id="")
        if not codes.exists():
            continue
        try:
            client = WeComClient.for_org(org)
        except NotConnected:
            continue
        with client:
            for code in codes.select_related("org"):
                try:
                    rewritten += sync_rotation(code, now=now, client=client)
                except WeComError as error:
                    log.warning("channel code %s: rotation not applied: %s", code.pk, error)
    return rewritten


def next_change(code: ChannelCode, now: datetime) -> datetime | None:
    """When the time-slot pick may change next (the next slot edge), for display; None for other policies."""
    if code.policy != ChannelCode.Policy.TIME_SLOTS:
        return None
    local = timezone.localtime(now)
    edges = []
    for slot in slots_of(code.time_slots):
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in slot.days:
                continue
            for minute in (slot.start, slot.end):
                moment = timezone.make_aware(datetime.combine(day, time.min)) + timedelta(minutes=minute)
                if moment > now:
                    edges.append(moment)
    return min(edges) if edges else None
