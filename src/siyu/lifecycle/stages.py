"""Customer stages (客户阶段): each organization's pipeline, the stage of each customer with its history, the
board, and the time-in-stage and conversion report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core import events
from siyu.customers import timeline
from siyu.customers.models import Customer, Relation, RelationTag, TimelineEvent
from siyu.lifecycle.models import CustomerLifecycle, Stage, StageChange
from siyu.orgs import audit
from siyu.orgs.models import Membership

# The default pipeline. Stage names are the organization's data (renamable), stored as written here.
DEFAULT_STAGES = [("新客户", False), ("意向客户", False), ("已成交", False), ("复购", False), ("流失", True)]
NAME_MAX = 20
STAGES_MAX = 20
# A customer moved into a stage, by anyone or any rule (journeys start from it).
STAGE_CHANGED = events.define_kind("customer.stage_changed", gettext_lazy("客户进入阶段"))


def _actor(by):
    """``by`` is a console viewer (Membership), a user, or None (the system)."""
    if isinstance(by, Membership):
        return by.user
    return by


# -- the pipeline ------------------------------------------------------------------------------------------
def stages_of(org) -> list[Stage]:
    """The organization's pipeline in order, created with the default stages the first time it is asked for."""
    stages = list(Stage.objects.for_org(org).order_by("position", "pk"))
    return stages or ensure_default_stages(org)


@transaction.atomic
def ensure_default_stages(org) -> list[Stage]:
    """Create the default pipeline if the organization has no stage yet; idempotent."""
    existing = list(Stage.objects.for_org(org).order_by("position", "pk"))
    if existing:
        return existing
    try:
        with transaction.atomic():
            Stage.objects.bulk_create([
                Stage(org_id=getattr(org, "pk", org), name=name, position=i, is_lost=is_lost)
                for i, (name, is_lost) in enumerate(DEFAULT_STAGES)
            ])
    except IntegrityError:  # another process created them meanwhile
        pass
    return list(Stage.objects.for_org(org).order_by("position", "pk"))


def first_stage(org) -> Stage:
    stages = stages_of(org)
    return next((s for s in stages if not s.is_lost), stages[0])


def lost_stage(org) -> Stage | None:
    return next((s for s in stages_of(org) if s.is_lost), None)


def _clean_name(org, name: str, *, exclude: Stage | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("请填写阶段名称。")})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": _("阶段名称最多 %(n)d 个字。") % {"n": NAME_MAX}})
    clash = Stage.objects.for_org(org).filter(name=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        raise ValidationError({"name": _("已有名为“%(name)s”的阶段。") % {"name": name}})
    return name


@transaction.atomic
def create_stage(org, *, name: str, is_lost: bool = False, by=None) -> Stage:
    """Add a stage at the end of the pipeline (before the lost stage, which stays last)."""
    stages = stages_of(org)
    name = _clean_name(org, name)
    if len(stages) >= STAGES_MAX:
        raise ValidationError({"name": _("最多 %(n)d 个阶段。") % {"n": STAGES_MAX}})
    if is_lost and any(s.is_lost for s in stages):
        raise ValidationError({"is_lost": _("只能有一个流失阶段。")})
    lost = next((s for s in stages if s.is_lost), None)
    if lost is not None and not is_lost:
        position = lost.position
        Stage.objects.for_org(org).filter(position__gte=position).update(position=F("position") + 1)
    else:
        position = max((s.position for s in stages), default=-1) + 1
    stage = Stage.objects.create(org_id=getattr(org, "pk", org), name=name, position=position, is_lost=is_lost)
    audit.record("stage.created", org=org, actor=_actor(by), obj=stage)
    return stage


@transaction.atomic
def rename_stage(stage: Stage, *, name: str, by=None) -> Stage:
    old = stage.name
    stage.name = _clean_name(stage.org_id, name, exclude=stage)
    stage.save(update_fields=["name"])
    audit.record("stage.renamed", org=stage.org_id, actor=_actor(by), obj=stage, details={"from": old, "to": stage.name})
    return stage


@transaction.atomic
def move_stage(stage: Stage, *, direction: int, by=None) -> None:
    """Swap a stage with its neighbour (``direction`` -1: earlier, +1: later)."""
    stages = stages_of(stage.org_id)
    index = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
    other = index + (1 if direction > 0 else -1)
    if not 0 <= other < len(stages):
        return
    ordered = stages[:]
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, s in enumerate(ordered):
        if s.position != position:
            Stage.objects.for_org(stage.org_id).filter(pk=s.pk).update(position=position)
    audit.record("stage.moved", org=stage.org_id, actor=_actor(by), obj=stage, details={"direction": direction})


@transaction.atomic
def delete_stage(stage: Stage, *, by=None) -> None:
    """Delete a stage nobody is in; history keeps the entries (their stage shows as deleted)."""
    if CustomerLifecycle.objects.for_org(stage.org_id).filter(stage=stage).exists():
        raise ValidationError(_("阶段“%(name)s”中还有客户，请先把他们移到其他阶段。") % {"name": stage.name})
    if Stage.objects.for_org(stage.org_id).count() <= 1:
        raise ValidationError(_("至少保留一个阶段。"))
    audit.record("stage.deleted", org=stage.org_id, actor=_actor(by), obj=stage)
    stage.delete()


# -- a customer's stage ------------------------------------------------------------------------------------
def lifecycle_of(customer: Customer) -> CustomerLifecycle:
    row = CustomerLifecycle.objects.for_org(customer.org_id).filter(customer=customer).select_related("stage").first()
    if row is None:
        row, _created = CustomerLifecycle.objects.for_org(customer.org_id).get_or_create(
            org_id=customer.org_id, customer=customer
        )
    return row


def stage_of(customer: Customer) -> Stage:
    """The customer's current stage; a customer never placed is in the first stage."""
    row = CustomerLifecycle.objects.for_org(customer.org_id).filter(customer=customer).select_related("stage").first()
    if row is not None and row.stage is not None:
        return row.stage
    return first_stage(customer.org_id)


@transaction.atomic
def move_customer(customer: Customer, stage: Stage, *, source: str, source_ref: str = "", by=None, staff=None,
                  at: datetime | None = None) -> StageChange | None:
    """Put ``customer`` in ``stage``: the history row, the timeline and (for a person's move) the audit log.

    Returns None when the customer is already there.
    """
    if stage.org_id != customer.org_id:
        raise ValidationError({"stage": _("阶段不属于该组织。")})
    if source not in StageChange.Source.values:
        raise ValueError(f"unknown stage change source {source!r}")
    at = at or timezone.now()
    row = (CustomerLifecycle.objects.for_org(customer.org_id).select_for_update(of=("self",))
           .filter(customer=customer).select_related("stage").first())
    if row is None:
        row = CustomerLifecycle.objects.create(org_id=customer.org_id, customer=customer)
    previous = row.stage
    if previous is not None and previous.pk == stage.pk:
        return None
    if previous is None:
        implicit = first_stage(customer.org_id)
        if implicit.pk != stage.pk:
            # Never placed: the customer sat in the first stage, where the board showed them. Record that stay,
            # so the history and the time-in-stage report see it.
            StageChange.objects.create(
                org_id=customer.org_id, customer=customer, from_stage=None, to_stage=implicit,
                entered_at=min(customer.first_added_at or customer.created_at or at, at), left_at=at,
                source=StageChange.Source.ADDED,
            )
            previous = implicit
    user = _actor(by)
    StageChange.objects.for_org(customer.org_id).filter(customer=customer, left_at=None).update(left_at=at)
    change = StageChange.objects.create(
        org_id=customer.org_id, customer=customer, from_stage=previous, to_stage=stage, entered_at=at,
        source=source, source_ref=source_ref[:100], actor=user,
    )
    row.stage, row.stage_since = stage, at
    row.save(update_fields=["stage", "stage_since", "updated_at"])
    timeline.stage_changed(customer, previous, stage, source=source, source_ref=source_ref, actor=user, staff=staff)
    events.emit(customer.org_id, STAGE_CHANGED, change, {"customer_id": customer.pk, "stage_id": stage.pk})
    if user is not None:
        audit.record("customer.stage_changed", org=customer.org_id, actor=user, obj=customer,
                     details={"from": previous.name if previous else "", "to": stage.name, "source": source})
    return change


def advance_customer(customer: Customer, stage: Stage, *, source: str, source_ref: str = "") -> StageChange | None:
    """Move forward only: rules never send a customer back (a repeat buyer's new order leaves them in 复购)."""
    current = stage_of(customer)
    if current.is_lost or current.position >= stage.position:
        return None
    return move_customer(customer, stage, source=source, source_ref=source_ref)


@transaction.atomic
def set_birthday(customer: Customer, birthday, *, by=None) -> CustomerLifecycle:
    row = lifecycle_of(customer)
    row.birthday = birthday
    row.save(update_fields=["birthday", "updated_at"])
    if _actor(by) is not None:
        audit.record("customer.birthday_set", org=customer.org_id, actor=_actor(by), obj=customer)
    return row


# -- the board ---------------------------------------------------------------------------------------------
BOARD_PAGE = 20  # cards per column and page: five columns of 20 fit a 1440×900 screen with little scrolling


@dataclass
class Column:
    stage: Stage
    count: int = 0
    customers: list = field(default_factory=list)
    page: int = 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // BOARD_PAGE))


def with_stage(customers, org):
    """Annotate ``stage_id`` on a customer queryset: their stage, or the first stage if never placed."""
    current = CustomerLifecycle.objects.for_org(org).filter(customer=OuterRef("pk")).values("stage_id")[:1]
    return customers.annotate(
        stage_id=Coalesce(Subquery(current, output_field=IntegerField()), Value(first_stage(org).pk))
    )


def board(viewer: Membership, *, q: str = "", staff=None, store=None, pages: dict[int, int] | None = None) -> list[Column]:
    """The stage board of what ``viewer`` may see, narrowed to a staff member's or a store's (and the stores below
    it) customers: per stage, how many and one page of ``BOARD_PAGE`` cards, most recently moved first, each
    with its tags and last contact. ``pages`` maps a stage id to its page number (1 by default)."""
    org = viewer.org
    pages = pages or {}
    columns = {s.pk: Column(stage=s) for s in stages_of(org)}
    customers = Customer.objects.visible_to(viewer)
    if q:
        customers = customers.filter(name__icontains=q.strip()[:50])
    relations = Relation.objects.for_org(org).filter(status=Relation.Status.ACTIVE)
    if staff is not None:
        customers = customers.filter(pk__in=relations.filter(staff=staff).values("customer_id"))
    if store is not None:
        below = Q(staff__store=store) | Q(staff__store__parent=store) | Q(staff__store__parent__parent=store)
        customers = customers.filter(pk__in=relations.filter(below).values("customer_id"))
    customers = with_stage(customers, org)
    for row in customers.order_by().values("stage_id").annotate(n=Count("pk")):
        if row["stage_id"] in columns:
            columns[row["stage_id"]].count = row["n"]
    since = CustomerLifecycle.objects.for_org(org).filter(customer=OuterRef("pk")).values("stage_since")[:1]
    for column in columns.values():
        column.page = min(max(pages.get(column.stage.pk, 1), 1), column.pages)
        if column.count:
            start = (column.page - 1) * BOARD_PAGE
            column.customers = list(
                customers.filter(stage_id=column.stage.pk).annotate(stage_since=Subquery(since))
                .order_by(F("stage_since").desc(nulls_last=True), "-pk")[start:start + BOARD_PAGE]
            )
    card_details(org, [c for column in columns.values() for c in column.customers])
    return list(columns.values())


def card_details(org, customers: list, limit: int = 3) -> None:
    """Each card's first ``limit`` tags (and how many more) and its last contact (the latest timeline event):
    two queries for the whole board."""
    ids = [c.pk for c in customers]
    last = dict(TimelineEvent.objects.for_org(org).filter(customer_id__in=ids).order_by().values("customer_id")
                .annotate(at=Max("occurred_at")).values_list("customer_id", "at"))
    by_customer: dict[int, list[str]] = defaultdict(list)
    links = (RelationTag.objects.for_org(org).filter(relation__customer_id__in=ids, tag__deleted=False)
             .order_by("relation__customer_id", "tag_id").values_list("relation__customer_id", "tag__name").distinct())
    for customer_id, name in links:
        if name not in by_customer[customer_id]:
            by_customer[customer_id].append(name)
    for customer in customers:
        names = by_customer.get(customer.pk, [])
        customer.card_tags, customer.more_tags = names[:limit], max(0, len(names) - limit)
        customer.last_contact = last.get(customer.pk)


# -- the report --------------------------------------------------------------------------------------------
@dataclass
class StageFigures:
    stage: Stage
    current: int = 0
    entered: int = 0
    avg_days: float | None = None  # over completed stays
    next_stage: Stage | None = None
    converted: int = 0

    @property
    def conversion(self) -> float | None:
        return self.converted / self.entered if self.entered and self.next_stage else None


def report(viewer: Membership, *, since: datetime | None = None, until: datetime | None = None) -> list[StageFigures]:
    """Per stage: customers in it now, customers who entered it in the period, the average days a stay lasted,
    and how many of those who entered went on (at any later time) to the next stage of the pipeline."""
    org = viewer.org
    stages = stages_of(org)
    figures = {s.pk: StageFigures(stage=s) for s in stages}
    pipeline = [s for s in stages if not s.is_lost]
    for a, b in zip(pipeline, pipeline[1:]):
        figures[a.pk].next_stage = b

    visible = Customer.objects.visible_to(viewer)
    for row in with_stage(visible, org).order_by().values("stage_id").annotate(n=Count("pk")):
        if row["stage_id"] in figures:
            figures[row["stage_id"]].current = row["n"]

    entries = StageChange.objects.visible_to(viewer).exclude(to_stage=None)
    if since:
        entries = entries.filter(entered_at__gte=since)
    if until:
        entries = entries.filter(entered_at__lt=until)
    for row in entries.order_by().values("to_stage_id").annotate(n=Count("customer_id", distinct=True)):
        figures[row["to_stage_id"]].entered = row["n"]

    durations: dict[int, list[float]] = defaultdict(list)
    for stage_id, entered, left in entries.exclude(left_at=None).values_list("to_stage_id", "entered_at", "left_at").iterator():
        durations[stage_id].append((left - entered).total_seconds() / 86400)
    for stage_id, values in durations.items():
        figures[stage_id].avg_days = sum(values) / len(values)

    for figure in figures.values():
        if figure.next_stage is None or not figure.entered:
            continue
        later = StageChange.objects.for_org(org).filter(
            customer_id=OuterRef("customer_id"), to_stage=figure.next_stage, entered_at__gte=OuterRef("entered_at")
        )
        figure.converted = (entries.filter(to_stage=figure.stage).filter(Exists(later))
                            .order_by().values("customer_id").distinct().count())
    return [figures[s.pk] for s in stages]


def stage_names(org, customer_ids: list[int]) -> dict[int, str]:
    """Each customer's stage name; never-placed customers are in the first stage.

    For the customer list's stage column: ``customer_ids`` are a page the viewer was already allowed to see."""
    first = first_stage(org).name
    placed = dict(CustomerLifecycle.objects.for_org(org).filter(customer_id__in=customer_ids).exclude(stage=None)
                  .values_list("customer_id", "stage__name"))
    return {customer_id: placed.get(customer_id, first) for customer_id in customer_ids}
