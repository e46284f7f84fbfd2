"""The checks a moment passes before it is scheduled, and the dry run that shows them: the content checker
(blocked words stop it, the words highlighted), the brand's cap on promotional posts per day, and how many
customers the chosen staff and tags reach.

A moment is shown by WeCom to customers by tag, not sent to a list, so the guard's per-recipient rules (consent,
receive caps, quiet hours) cannot pick who sees it; what the brand controls is what it says and how often it
promotes, and that is checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.safestring import SafeString

from siyu.content.compliance import Finding, check
from siyu.content.highlight import highlight
from siyu.core import clock
from siyu.customers.models import Relation, RelationTag
from siyu.messaging import guard
from siyu.moments.models import Moment, MomentSettings
from siyu.orgs.models import Staff

# Posts that count against the day's promotional cap: every one not cancelled, failed or still a draft.
COUNTED = (Moment.Status.SCHEDULED, Moment.Status.PUBLISHING, Moment.Status.PUBLISHED)


def settings_of(org) -> MomentSettings:
    """The brand's saved moment settings, or the defaults (unsaved)."""
    org_id = getattr(org, "pk", org)
    return MomentSettings.objects.for_org(org_id).first() or MomentSettings(org_id=org_id)


def day_bounds(org_id: int, at: datetime) -> tuple[datetime, datetime]:
    """The brand's calendar day ``at`` falls in (its default time zone, as the guard counts days)."""
    tz = ZoneInfo(guard.policy_of(org_id).timezone)
    start = datetime.combine(at.astimezone(tz).date(), time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


def promotional_that_day(moment: Moment, at: datetime) -> list[Moment]:
    """The brand's other promotional posts counted on the day ``at`` falls in."""
    start, end = day_bounds(moment.org_id, at)
    return list(Moment.objects.for_org(moment.org_id)
                .filter(promotional=True, status__in=COUNTED, publish_at__gte=start, publish_at__lt=end)
                .exclude(pk=moment.pk).order_by("publish_at"))


def audience_count(moment: Moment) -> int:
    """Customers who will be able to see the post once every chosen member publishes it: friends of those staff
    (all of them when none is chosen) who carry any of the chosen tags (any tag, as WeCom's tag list reads)."""
    relations = Relation.objects.for_org(moment.org_id).filter(
        status=Relation.Status.ACTIVE, staff__status=Staff.Status.ACTIVE)
    if moment.staff_ids:
        relations = relations.filter(staff_id__in=moment.staff_ids)
    if moment.tag_ids:
        tagged = RelationTag.objects.for_org(moment.org_id).filter(tag_id__in=moment.tag_ids).values("relation_id")
        relations = relations.filter(pk__in=tagged)
    return relations.values("customer_id").distinct().count()


@dataclass
class DryRun:
    findings: list[Finding]
    highlighted: SafeString
    promotional: bool
    promotional_limit: int
    promotional_today: list[Moment]
    audience: int
    at: datetime

    @property
    def content_blocked(self) -> bool:
        return any(f.blocks for f in self.findings)

    @property
    def over_cap(self) -> bool:
        return self.promotional and len(self.promotional_today) >= self.promotional_limit

    @property
    def blocked(self) -> bool:
        return self.content_blocked or self.over_cap


def dry_run(moment: Moment, *, at: datetime | None = None) -> DryRun:
    """What scheduling the moment for ``at`` (its own time, else now) would meet, written nowhere."""
    at = at or moment.scheduled_at or clock.now()
    findings = check(moment.text, org=moment.org_id)
    return DryRun(findings=findings, highlighted=highlight(moment.text, findings), promotional=moment.promotional,
                  promotional_limit=settings_of(moment.org_id).promotional_per_day,
                  promotional_today=promotional_that_day(moment, at) if moment.promotional else [],
                  audience=audience_count(moment), at=at)
