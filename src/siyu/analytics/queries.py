"""Channel statistics (渠道统计) per channel, staff member and day, computed with SQL aggregation.

A *channel* is the ``state`` of the WeCom contact way a customer scanned (``Relation.state``); names, folders and
partners come from ``siyu.channels`` when that app is installed, else the state itself is shown. The definitions
below are the ones the page and docs/analytics.md explain to users; keep the three in step.

* **Adds** (新增): friendships (``Relation`` rows) with a non-empty ``state``, on the Asia/Shanghai day of their
  ``added_at``. A customer who deletes a staff member and adds them again is one friendship, counted at the latest
  add (WeCom keeps one relation per customer and staff member, and so does Siyu).
* **Deletions** (流失): on the day they happened (``deleted_at``), split by who deleted whom. Handing a customer to
  another staff member (离职继承/在职转接) is not a deletion; the takeover's relation has no ``state``.
* **Net growth** (净增) = adds − deletions by the customer − deletions by staff, on the same row: flows of the day.
* **Retention after N days** (N = 7, 30): of the adds at least N days old at ``now``, the share *not* deleted
  within N days of their add. Younger adds are left out of the numerator and the denominator alike.
* **First-reply time** (首次回复时长): for an add whose customer wrote to the staff member in their 1:1 chat after the
  add, the time from the customer's first such message to the staff member's first message after it. Adds where the
  customer never wrote are not counted; those where the customer wrote and got no reply are "unanswered".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from siyu.customers.models import Relation
from siyu.orgs.models import Staff, Store
from siyu.wecom.models import ChatMessage

DAY_TZ = ZoneInfo("Asia/Shanghai")
RETENTION_DAYS = (7, 30)
MAX_SPAN_DAYS = 366
LOST = (Relation.Status.DELETED_BY_CUSTOMER, Relation.Status.DELETED_BY_STAFF)
GROUPINGS = ("detail", "channel", "staff", "day")


# -- filters --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatsFilter:
    """What to count: Asia/Shanghai days ``start``..``end`` (both included) and optional narrowing."""

    start: date
    end: date
    state: str = ""
    staff_id: int | None = None
    store_id: int | None = None
    partner_id: int | None = None

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        """The instants the range covers: from ``start`` 00:00 to the midnight after ``end``, Beijing time."""
        return (datetime.combine(self.start, time.min, DAY_TZ),
                datetime.combine(self.end + timedelta(days=1), time.min, DAY_TZ))

    def as_params(self) -> dict:
        """JSON-safe, for a job's params and the audit entry."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_params(cls, params: dict) -> StatsFilter:
        return cls(**{**params, "start": date.fromisoformat(params["start"]), "end": date.fromisoformat(params["end"])})


def default_range(today: date | None = None, days: int = 30) -> tuple[date, date]:
    today = today or timezone.localdate(timezone=DAY_TZ)
    return today - timedelta(days=days - 1), today


# -- what channels and staff are called -----------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelInfo:
    state: str
    name: str = ""
    folder: str = ""
    partner_id: int | None = None
    partner_name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.state


@dataclass(frozen=True)
class StaffInfo:
    id: int
    userid: str
    name: str
    store: str

    @property
    def label(self) -> str:
        return self.name or self.userid


def channels_installed() -> bool:
    return apps.is_installed("siyu.channels")


def channel_directory(org) -> dict[str, ChannelInfo]:
    """Every state the organization's channel codes have had → name, folder and partner (``{}`` without siyu.channels).

    Imported only when that app is installed, so the statistics work (grouped by bare state) before and without it.
    Deleted codes keep naming their states: their adds are history.
    """
    if not channels_installed():
        return {}
    from siyu.channels.queries import state_directory

    return {
        state: ChannelInfo(state=state, name=code.name, folder=str(code.folder or ""), partner_id=code.partner_id,
                           partner_name=str(code.partner or ""))
        for state, code in state_directory(org).items()
    }


def partners(directory: dict[str, ChannelInfo]) -> list[tuple[int, str]]:
    """(id, name) of every partner that has at least one channel code, by name."""
    found = {c.partner_id: c.partner_name for c in directory.values() if c.partner_id is not None}
    return sorted(found.items(), key=lambda item: (item[1], item[0]))


def stores_below(org, store_id: int) -> list[int]:
    """A store or region and every store below it."""
    ids, frontier = [store_id], [store_id]
    while frontier:
        frontier = list(Store.objects.for_org(org).filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids


def channel_states(viewer, directory: dict[str, ChannelInfo]) -> list[str]:
    """The channel states the viewer's figures can contain: seen on their relations, or of a channel code they
    may see (a guide is offered their own codes, not every code of the brand)."""
    seen = set(
        Relation.objects.visible_to(viewer).exclude(state="").order_by().values_list("state", flat=True).distinct()
    )
    if viewer.sees_whole_org or not channels_installed():
        return sorted(seen | set(directory))
    from siyu.channels.queries import states_visible_to

    return sorted(seen | (states_visible_to(viewer) & set(directory)))


# -- figures --------------------------------------------------------------------------------------------------
SUMMED = ("adds", "deleted_by_customer", "deleted_by_staff", "eligible_7", "retained_7", "eligible_30",
          "retained_30", "wrote", "replied", "reply_seconds")


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Figures:
    adds: int = 0
    deleted_by_customer: int = 0
    deleted_by_staff: int = 0
    eligible_7: int = 0   # adds at least 7 days old
    retained_7: int = 0   # … of which not deleted within 7 days
    eligible_30: int = 0
    retained_30: int = 0
    wrote: int = 0        # adds whose customer wrote to the staff member after the add
    replied: int = 0      # … of which the staff member answered
    reply_seconds: float = 0.0  # summed first-reply times of the replied ones

    @property
    def deletions(self) -> int:
        return self.deleted_by_customer + self.deleted_by_staff

    @property
    def net(self) -> int:
        return self.adds - self.deletions

    @property
    def retention_7(self) -> float | None:
        return _ratio(self.retained_7, self.eligible_7)

    @property
    def retention_30(self) -> float | None:
        return _ratio(self.retained_30, self.eligible_30)

    @property
    def unanswered(self) -> int:
        return self.wrote - self.replied

    @property
    def avg_reply_seconds(self) -> float | None:
        return self.reply_seconds / self.replied if self.replied else None

    def absorb(self, other: Figures) -> None:
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Row(Figures):
    """Figures of one day × channel × staff member, or of a coarser group (the other keys then None)."""

    day: date | None = None
    state: str | None = None
    staff_id: int | None = None
    channel: ChannelInfo | None = None
    staff: StaffInfo | None = None


@dataclass
class PartnerRow(Figures):
    partner_id: int | None = None
    name: str = ""
    channels: list[str] = field(default_factory=list)
    share: float | None = None  # of all channel adds in the report


@dataclass
class ChannelStats:
    filters: StatsFilter
    now: datetime
    rows: list[Row]  # one per day × channel × staff member that had an add or a deletion
    channels: dict[str, ChannelInfo]
    staff: dict[int, StaffInfo]

    @cached_property
    def total(self) -> Figures:
        total = Figures()
        for row in self.rows:
            total.absorb(row)
        return total

    def grouped(self, by: str) -> list[Row]:
        """The rows at one level: ``detail`` (day × channel × staff), ``channel``, ``staff`` or ``day``."""
        if by == "detail":
            return self.rows
        if by == "day":
            return list(reversed(self.daily()))
        keys = {"channel": ("state",), "staff": ("staff_id",)}[by]
        groups: dict[tuple, Row] = {}
        for row in self.rows:
            key = tuple(getattr(row, k) for k in keys)
            group = groups.get(key)
            if group is None:
                group = groups[key] = Row(**{k: getattr(row, k) for k in keys},
                                          channel=row.channel if by == "channel" else None,
                                          staff=row.staff if by == "staff" else None)
            group.absorb(row)
        return sorted(groups.values(), key=lambda r: (-r.adds, -r.deletions, _label(r)))

    def daily(self) -> list[Row]:
        """Every day of the range, oldest first, zero-filled: what the trend chart draws."""
        days = {d: Row(day=d) for d in self.filters.days}
        for row in self.rows:
            days[row.day].absorb(row)
        return list(days.values())


def _label(row: Row) -> str:
    return (row.channel.label if row.channel else "") + (row.staff.label if row.staff else "")


# -- the queries ----------------------------------------------------------------------------------------------
def _relations(viewer, filters: StatsFilter, directory: dict[str, ChannelInfo]):
    relations = Relation.objects.visible_to(viewer).exclude(state="")
    if filters.state:
        relations = relations.filter(state=filters.state)
    if filters.staff_id:
        relations = relations.filter(staff_id=filters.staff_id)
    if filters.store_id:
        relations = relations.filter(staff__store_id__in=stores_below(viewer.org_id, filters.store_id))
    if filters.partner_id:
        relations = relations.filter(state__in=[c.state for c in directory.values() if c.partner_id == filters.partner_id])
    return relations


def _with_first_reply(relations, org):
    """Annotate each friendship with its customer's first 1:1 message after the add and the staff's first reply."""
    chat = ChatMessage.objects.for_org(org).filter(customer_id=OuterRef("customer_id"), staff_id=OuterRef("staff_id"), room_id="")
    first_in = chat.filter(from_customer=True, sent_at__gte=OuterRef("added_at")).order_by("sent_at").values("sent_at")[:1]
    reply = chat.filter(from_customer=False, sent_at__gte=OuterRef("first_in")).order_by("sent_at").values("sent_at")[:1]
    return relations.annotate(first_in=Subquery(first_in)).annotate(first_reply=Subquery(reply))


def _adds(relations, org, start: datetime, end: datetime, now: datetime):
    figures = {
        "adds": Count("pk"),
        "wrote": Count("pk", filter=Q(first_in__isnull=False)),
        "replied": Count("pk", filter=Q(first_reply__isnull=False)),
        "reply_total": Sum(F("first_reply") - F("first_in")),
    }
    for days in RETENTION_DAYS:
        old_enough = Q(added_at__lte=now - timedelta(days=days))
        lost_in_time = Q(status__in=LOST, deleted_at__lt=F("added_at") + timedelta(days=days))
        figures[f"eligible_{days}"] = Count("pk", filter=old_enough)
        figures[f"retained_{days}"] = Count("pk", filter=old_enough & ~lost_in_time)
    return (
        _with_first_reply(relations.filter(added_at__gte=start, added_at__lt=end), org)
        .annotate(day=TruncDate("added_at", tzinfo=DAY_TZ))
        .values("day", "state", "staff_id")
        .annotate(**figures)
        .order_by()
    )


def _deletions(relations, start: datetime, end: datetime):
    return (
        relations.filter(status__in=LOST, deleted_at__gte=start, deleted_at__lt=end)
        .annotate(day=TruncDate("deleted_at", tzinfo=DAY_TZ))
        .values("day", "state", "staff_id")
        .annotate(
            deleted_by_customer=Count("pk", filter=Q(status=Relation.Status.DELETED_BY_CUSTOMER)),
            deleted_by_staff=Count("pk", filter=Q(status=Relation.Status.DELETED_BY_STAFF)),
        )
        .order_by()
    )


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _seconds(value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000  # a backend that hands back microseconds


def relation_count(viewer, filters: StatsFilter) -> int:
    """How many friendships the statistics for ``filters`` read (added or deleted in the range): the cost."""
    start, end = filters.bounds()
    relations = _relations(viewer, filters, channel_directory(viewer.org_id))
    return relations.filter(Q(added_at__gte=start, added_at__lt=end) | Q(deleted_at__gte=start, deleted_at__lt=end)).count()


def channel_stats(viewer, filters: StatsFilter, *, now: datetime | None = None) -> ChannelStats:
    """The statistics ``viewer`` may see (``Relation.objects.visible_to``), for ``filters``, as of ``now``."""
    now = now or timezone.now()
    org = viewer.org_id
    directory = channel_directory(org)
    relations = _relations(viewer, filters, directory)
    start, end = filters.bounds()
    rows: dict[tuple, Row] = {}

    def row_for(values) -> Row:
        key = (_as_date(values["day"]), values["state"], values["staff_id"])
        if key not in rows:
            rows[key] = Row(day=key[0], state=key[1], staff_id=key[2])
        return rows[key]

    for values in _adds(relations, org, start, end, now):
        row = row_for(values)
        for name in ("adds", "wrote", "replied", "eligible_7", "retained_7", "eligible_30", "retained_30"):
            setattr(row, name, values[name])
        row.reply_seconds = _seconds(values["reply_total"])
    for values in _deletions(relations, start, end):
        row = row_for(values)
        row.deleted_by_customer, row.deleted_by_staff = values["deleted_by_customer"], values["deleted_by_staff"]

    staff = {
        s.pk: StaffInfo(s.pk, s.userid, s.name, s.store.name if s.store else "")
        for s in Staff.objects.for_org(org).filter(pk__in={k[2] for k in rows}).select_related("store")
    }
    for row in rows.values():
        row.channel = directory.get(row.state) or ChannelInfo(state=row.state)
        row.staff = staff.get(row.staff_id)
    ordered = sorted(rows.values(), key=lambda r: (-r.day.toordinal(), _label(r), r.state, r.staff_id))
    return ChannelStats(filters=filters, now=now, rows=ordered, channels=directory, staff=staff)


def partner_report(viewer, filters: StatsFilter, *, now: datetime | None = None,
                   stats: ChannelStats | None = None) -> list[PartnerRow]:
    """Traffic share per partner (cross-brand channels): adds, share of all channel adds, retention, losses.

    The partner filter is ignored: a share is of every channel add the other filters select. Channels without a
    partner are the brand's own, reported last as one row with ``partner_id`` None.
    """
    if stats is None or stats.filters.partner_id is not None:
        unfiltered = StatsFilter(**{**asdict(filters), "partner_id": None})
        stats = channel_stats(viewer, unfiltered, now=now)
    report: dict[int | None, PartnerRow] = {}
    for row in stats.grouped("channel"):
        info = row.channel or ChannelInfo(state=row.state)
        entry = report.get(info.partner_id)
        if entry is None:
            entry = report[info.partner_id] = PartnerRow(partner_id=info.partner_id, name=info.partner_name)
        entry.absorb(row)
        entry.channels.append(info.label)
    total = stats.total.adds
    for entry in report.values():
        entry.share = _ratio(entry.adds, total)
    return sorted(report.values(), key=lambda e: (e.partner_id is None, -e.adds, e.name))
