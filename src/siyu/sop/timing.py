"""When a step is due: its day offset and time of day in the customer's local time (their own time zone when the
guard knows it, else the organization's), as the guard reckons quiet hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from siyu.messaging import guard
from siyu.messaging.models import RecipientFacts


def zones(org_id: int, customer_ids) -> tuple[ZoneInfo, dict[int, ZoneInfo]]:
    """The organization's default zone and each listed customer's own zone (only those who have one)."""
    default = ZoneInfo(guard.policy_of(org_id).timezone)
    own = (RecipientFacts.objects.for_org(org_id).filter(customer_id__in=list(customer_ids)).exclude(timezone="")
           .values_list("customer_id", "timezone"))
    return default, {pk: ZoneInfo(zone) for pk, zone in own}


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def step_due(anchor_at: datetime, day_offset: int, time_of_day: time, tz: ZoneInfo) -> datetime:
    """``day_offset`` days after the anchor's local day at ``time_of_day`` local time; never before the anchor
    itself (a day-0 step at 10:00 for a customer added at 15:00 is due at once, not in the past)."""
    day = local_day(anchor_at, tz) + timedelta(days=day_offset)
    due = datetime.combine(day, time_of_day, tzinfo=tz).astimezone(ZoneInfo("UTC"))
    return max(due, anchor_at)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(ZoneInfo("UTC"))
