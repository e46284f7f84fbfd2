"""Who goes through an SOP, from when, and when they stop.

A subject enters an SOP once per occasion (the run's ``key``): a friendship added, a tag put on, a stage entered,
a group created, a calendar date, a birthday in a given year. Entering writes the run and one task per step, each
due at its local time, so the calendar shows what is coming. The relation, group, tag and stage events enrol at
once; the periodic sweep (:func:`sweep`) enrols the triggers that have no event of their own (dates, birthdays),
catches up on any event missed, and stops the runs whose subject left the condition. Everything here is idempotent
by the run key, so an event and the sweep starting the same occasion start it once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from siyu.content import materials, variables
from siyu.content.models import Material
from siyu.core import clock, events
from siyu.core.durable import DurableRow
from siyu.customers.models import Customer, Relation, RelationTag
from siyu.customers.tagging import TAGGED
from siyu.groups.models import CustomerGroup
from siyu.lifecycle.models import CustomerLifecycle
from siyu.lifecycle.stages import STAGE_CHANGED
from siyu.messaging.guard import years_before
from siyu.messaging.models import RecipientFacts
from siyu.orgs.models import Staff
from siyu.sop import timing
from siyu.tracking import links
from siyu.sop.models import Sop, SopRun, SopStep, SopTask

log = logging.getLogger(__name__)
Trigger = Sop.Trigger
StopReason = SopRun.StopReason


# -- content ---------------------------------------------------------------------------------------------------------
def step_text(step: SopStep) -> str:
    """The step's text: its script's current body (approved scripts only reach the editor) or its inline text."""
    return step.script.body if step.script_id else step.text


def ready_content(step: SopStep, *, customer: Customer | None, staff: Staff) -> str:
    """The text the staff member sends, variables filled for this customer and this staff member."""
    text = step_text(step)
    guide = staff.membership
    return variables.render(text, customer=customer, guide=guide) if guide is not None else text


# -- entering --------------------------------------------------------------------------------------------------------
def start_run(sop: Sop, *, key: str, staff: Staff, anchor_at: datetime, customer: Customer | None = None,
              group: CustomerGroup | None = None, tz=None) -> SopRun | None:
    """The run for ``key`` with a task per step (None if it exists already): one transaction, so a run never
    exists without its tasks."""
    org_id = sop.org_id
    if SopRun.objects.for_org(org_id).filter(sop=sop, key=key).exists():
        return None
    if tz is None:
        default, own = timing.zones(org_id, [customer.pk] if customer else [])
        tz = own.get(getattr(customer, "pk", None), default)
    steps = list(SopStep.objects.for_org(org_id).filter(sop=sop, retired=False).select_related("script", "material"))
    try:
        with transaction.atomic():
            run = SopRun.objects.create(org_id=org_id, sop=sop, customer=customer, group=group, staff=staff,
                                        anchor_at=anchor_at, key=key[:100])
            SopTask.objects.bulk_create([
                SopTask(org_id=org_id, run=run, step=step, sop=sop, staff=staff, customer=customer, group=group,
                        content=ready_content(step, customer=customer, staff=staff), attachments=step_attachments(step, customer=customer, staff=staff),
                        due_at=timing.step_due(anchor_at, step.day_offset, step.time_of_day, tz),
                        idempotency_key=f"sop:{run.pk}:{step.pk}")
                for step in steps
            ])
    except IntegrityError:  # entered by another process meanwhile
        return None
    return run


def active_sops(org_id: int, *triggers: str):
    return Sop.objects.for_org(org_id).filter(is_active=True, trigger__in=triggers)


def qualifies(sop: Sop, customer_ids) -> set[int]:
    """Those of ``customer_ids`` inside the SOP's condition now (any of its tags; in its segment)."""
    ids = set(customer_ids)
    if not ids:
        return ids
    org_id = sop.org_id
    if sop.condition_tag_ids:
        tagged = RelationTag.objects.for_org(org_id).filter(
            tag_id__in=sop.condition_tag_ids, relation__status=Relation.Status.ACTIVE, relation__customer_id__in=ids)
        ids &= set(tagged.values_list("relation__customer_id", flat=True))
    if sop.condition_segment_id and ids:
        from siyu.segments.services import current_members

        members = current_members(sop.condition_segment).filter(customer_id__in=ids)
        ids &= set(members.values_list("customer_id", flat=True))
    return ids


def enrol_relation(relation: Relation) -> int:
    """A friendship just added: every active "added" SOP whose condition the customer meets starts for it."""
    if relation.status != Relation.Status.ACTIVE:
        return 0
    anchor = relation.added_at or relation.created_at
    made = 0
    for sop in active_sops(relation.org_id, Trigger.ADDED):
        if anchor < sop.active_since or not qualifies(sop, [relation.customer_id]):
            continue
        made += start_run(sop, key=f"rel:{relation.pk}", staff=relation.staff, anchor_at=anchor,
                          customer=relation.customer) is not None
    return made


def enrol_group(group: CustomerGroup) -> int:
    """A customer group just created: group SOPs start for it, their tasks going to the group's owner."""
    if group.owner_id is None or group.status != CustomerGroup.Status.ACTIVE:
        return 0
    anchor = group.created_in_wecom_at or group.created_at
    made = 0
    for sop in active_sops(group.org_id, Trigger.GROUP_CREATED):
        if anchor >= sop.active_since:
            made += start_run(sop, key=f"group:{group.pk}", staff=group.owner, anchor_at=anchor, group=group,
                              tz=timing.zones(group.org_id, [])[0]) is not None
    return made


def _enrol_relation_rows(sop: Sop, rows, key_prefix: str) -> int:
    """``rows`` of (relation_id, customer_id, staff_id, anchor): start the qualifying ones not started yet."""
    # One read of the keys already used: each sweep re-reads every trigger since activation, and most have a run.
    started = set(SopRun.objects.for_org(sop.org_id).filter(sop=sop).values_list("key", flat=True))
    rows = [r for r in rows if r[3] is not None and f"{key_prefix}:{r[0]}" not in started]
    allowed = qualifies(sop, {r[1] for r in rows})
    customers = Customer.objects.for_org(sop.org_id).in_bulk({r[1] for r in rows if r[1] in allowed})
    staff = Staff.objects.for_org(sop.org_id).in_bulk({r[2] for r in rows})
    made = 0
    for relation_id, customer_id, staff_id, anchor in rows:
        if customer_id in customers:
            made += start_run(sop, key=f"{key_prefix}:{relation_id}", staff=staff[staff_id], anchor_at=anchor,
                              customer=customers[customer_id]) is not None
    return made


def _enrol_tagged(sop: Sop, customer_id: int | None = None) -> int:
    found = (RelationTag.objects.for_org(sop.org_id)
             .filter(tag_id=sop.trigger_tag_id, created_at__gte=sop.active_since, relation__status=Relation.Status.ACTIVE))
    if customer_id is not None:
        found = found.filter(relation__customer_id=customer_id)
    rows = found.values_list("relation_id", "relation__customer_id", "relation__staff_id", "created_at")
    return _enrol_relation_rows(sop, list(rows), f"tag:{sop.trigger_tag_id}")


def step_attachments(step: SopStep, *, customer: Customer | None, staff: Staff) -> list[dict]:
    """The step's attachments with its material's, when that material is still approved (one withdrawn since the
    step was written is left out rather than sent). A customer's task carries the material as their own tracked
    link (articles and links as tracked cards, media as media); a group's task its plain attachment."""
    extra = []
    if step.material is not None and step.material.status == Material.Status.APPROVED:
        extra = [links.attachment_for(step.material, customer=customer, staff=staff, channel="sop", tracked=False)
                 if customer is not None else materials.to_attachment(step.material)]
    return [*(step.attachments or []), *extra]


def owners(org_id: int, customer_ids) -> dict[int, Relation]:
    """Each customer's earliest active friendship (the staff member who owns them)."""
    chosen: dict[int, Relation] = {}
    rows = (Relation.objects.for_org(org_id).filter(customer_id__in=customer_ids, status=Relation.Status.ACTIVE)
            .exclude(staff__status=Staff.Status.DEPARTED).order_by("customer_id", "added_at", "pk"))
    for relation in rows:
        chosen.setdefault(relation.customer_id, relation)
    return chosen


def _enrol_owned(sop: Sop, found: dict[int, datetime], key: str) -> int:
    """``found``: customer id → anchor; each starts with their owning staff member, once per ``key``."""
    by_customer = owners(sop.org_id, qualifies(sop, found))
    return _enrol_relation_rows(sop, [(r.pk, r.customer_id, r.staff_id, found[r.customer_id])
                                      for r in by_customer.values()], key)


def _enrol_staged(sop: Sop, customer_id: int | None = None) -> int:
    rows = (CustomerLifecycle.objects.for_org(sop.org_id)
            .filter(stage_id=sop.trigger_stage_id, stage_since__gte=sop.active_since))
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    found = dict(rows.values_list("customer_id", "stage_since"))
    made = 0
    # The stage entry's time is part of the key: entering the stage again later is a new occasion.
    for customer_id, since in found.items():
        made += _enrol_owned(sop, {customer_id: since}, f"stage:{sop.trigger_stage_id}:{int(since.timestamp())}")
    return made


def _enrol_dated(sop: Sop, now: datetime) -> int:
    tz = timing.zones(sop.org_id, [])[0]
    if sop.trigger_date is None or timing.local_day(now, tz) < sop.trigger_date:
        return 0
    anchor = timing.day_start(sop.trigger_date, tz)
    last = max(SopStep.objects.for_org(sop.org_id).filter(sop=sop, retired=False).values_list("day_offset", flat=True), default=0)
    if now >= anchor + timedelta(days=last + 1):
        return 0  # its last day has passed: an SOP switched on too late for its date does nothing
    ids = Relation.objects.for_org(sop.org_id).filter(status=Relation.Status.ACTIVE).values_list("customer_id", flat=True)
    return _enrol_owned(sop, dict.fromkeys(set(ids), anchor), f"date:{sop.trigger_date.isoformat()}")


def _enrol_birthdays(sop: Sop, now: datetime) -> int:
    """Customers whose birthday (the guard's known birth date) is today in their local time, once a year."""
    made = 0
    default, _own = timing.zones(sop.org_id, [])
    facts = (RecipientFacts.objects.for_org(sop.org_id).filter(birth_date__isnull=False)
             .values_list("customer_id", "birth_date", "timezone"))
    for customer_id, birth_date, zone in facts:
        tz = timing.ZoneInfo(zone) if zone else default
        today = timing.local_day(now, tz)
        birthday = years_before(birth_date, birth_date.year - today.year) if birth_date.year <= today.year else None
        if birthday != today:
            continue
        made += _enrol_owned(sop, {customer_id: timing.day_start(today, tz)}, f"birthday:{today.year}")
    return made


def _enrol_swept(sop: Sop, now: datetime) -> int:
    if sop.trigger == Trigger.TAG_ADDED:
        return _enrol_tagged(sop)
    if sop.trigger == Trigger.STAGE_ENTERED:
        return _enrol_staged(sop)
    if sop.trigger == Trigger.DATE:
        return _enrol_dated(sop, now)
    if sop.trigger == Trigger.BIRTHDAY:
        return _enrol_birthdays(sop, now)
    if sop.trigger == Trigger.ADDED:
        rows = (Relation.objects.for_org(sop.org_id)
                .filter(status=Relation.Status.ACTIVE, added_at__gte=sop.active_since)
                .values_list("pk", "customer_id", "staff_id", "added_at"))
        return _enrol_relation_rows(sop, list(rows), "rel")
    groups = CustomerGroup.objects.for_org(sop.org_id).filter(
        Q(created_in_wecom_at__gte=sop.active_since) | Q(created_in_wecom_at__isnull=True, created_at__gte=sop.active_since))
    return sum(enrol_group(group) for group in groups.select_related("owner"))


# -- leaving ---------------------------------------------------------------------------------------------------------
def stop_runs(org_id: int, run_ids, reason: str) -> int:
    """Stop the runs: their tasks not yet delivered are cancelled and none of them shows as a to-do any more."""
    run_ids = list(run_ids)
    if not run_ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        stopped = SopRun.objects.for_org(org_id).filter(pk__in=run_ids, status=SopRun.Status.ACTIVE).update(
            status=SopRun.Status.STOPPED, stop_reason=reason, stopped_at=now)
        SopTask.objects.for_org(org_id).filter(run_id__in=run_ids, status=DurableRow.Status.PENDING).update(
            status=DurableRow.Status.CANCELLED, cancel_reason=reason, finished_at=now)
    return stopped


def leavers(sop: Sop) -> dict[int, str]:
    """The SOP's active runs whose subject left its condition now, with why: ``{run_id: reason}``."""
    org_id = sop.org_id
    runs = list(SopRun.objects.for_org(org_id).filter(sop=sop, status=SopRun.Status.ACTIVE)
                .values_list("pk", "customer_id", "group_id", "staff_id", "key"))
    if not runs:
        return {}
    out: dict[int, str] = {}
    if sop.for_groups:
        live = set(CustomerGroup.objects.for_org(org_id).filter(
            pk__in=[r[2] for r in runs], status=CustomerGroup.Status.ACTIVE).values_list("pk", flat=True))
        return {pk: StopReason.GROUP_DISMISSED for pk, _c, group_id, _s, _k in runs if group_id not in live}
    friends = set(Relation.objects.for_org(org_id).filter(
        customer_id__in=[r[1] for r in runs], status=Relation.Status.ACTIVE).values_list("customer_id", "staff_id"))
    for pk, customer_id, _g, staff_id, _k in runs:
        if (customer_id, staff_id) not in friends:
            out[pk] = StopReason.LOST
    remaining = [r for r in runs if r[0] not in out]
    if sop.trigger == Trigger.TAG_ADDED:
        tagged = set(RelationTag.objects.for_org(org_id).filter(tag_id=sop.trigger_tag_id).values_list(
            "relation__customer_id", "relation__staff_id"))
        for pk, customer_id, _g, staff_id, _k in remaining:
            if (customer_id, staff_id) not in tagged:
                out[pk] = StopReason.TAG_REMOVED
    if sop.trigger == Trigger.STAGE_ENTERED:
        staged = set(CustomerLifecycle.objects.for_org(org_id).filter(stage_id=sop.trigger_stage_id)
                     .values_list("customer_id", flat=True))
        for pk, customer_id, _g, _s, _k in remaining:
            if customer_id not in staged:
                out[pk] = StopReason.STAGE_LEFT
    remaining = [r for r in remaining if r[0] not in out]
    inside = qualifies(sop, {r[1] for r in remaining})
    for pk, customer_id, _g, _s, _k in remaining:
        if customer_id not in inside:
            out[pk] = StopReason.CONDITION_LEFT
    return out


def stop_leavers(sop: Sop) -> int:
    by_reason: dict[str, list[int]] = {}
    for run_id, reason in leavers(sop).items():
        by_reason.setdefault(reason, []).append(run_id)
    return sum(stop_runs(sop.org_id, ids, reason) for reason, ids in by_reason.items())


def sweep(org, *, now: datetime | None = None) -> tuple[int, int]:
    """Enrol what the triggers found and stop who left, for every active SOP of ``org``: ``(started, stopped)``."""
    org_id = getattr(org, "pk", org)
    now = now or clock.now()
    started = stopped = 0
    for sop in Sop.objects.for_org(org_id).filter(is_active=True).select_related("condition_segment"):
        stopped += stop_leavers(sop)
        started += _enrol_swept(sop, now)
    return started, stopped


# -- the events ------------------------------------------------------------------------------------------------------
def on_relation_added(event) -> None:
    relation = event.subject()
    if isinstance(relation, Relation):
        enrol_relation(relation)


def on_relation_lost(event) -> None:
    relation = event.subject()
    if not isinstance(relation, Relation):
        return
    runs = SopRun.objects.for_org(relation.org_id).filter(
        customer_id=relation.customer_id, staff_id=relation.staff_id, status=SopRun.Status.ACTIVE,
        sop__trigger__in=[t for t in Trigger.values if t != Trigger.GROUP_CREATED]).values_list("pk", flat=True)
    stop_runs(relation.org_id, runs, StopReason.LOST)


def on_tagged(event) -> None:
    """A tag put on: the customer enters the SOPs that tag triggers now, not at the next sweep."""
    customer_id = event.payload.get("customer_id")
    sops = active_sops(event.org_id, Trigger.TAG_ADDED).filter(trigger_tag_id__in=event.payload.get("tag_ids") or [])
    for sop in sops:
        _enrol_tagged(sop, customer_id)


def on_stage_changed(event) -> None:
    customer_id = event.payload.get("customer_id")
    for sop in active_sops(event.org_id, Trigger.STAGE_ENTERED).filter(trigger_stage_id=event.payload.get("stage_id")):
        _enrol_staged(sop, customer_id)


def on_group_changed(event) -> None:
    group = event.subject()
    if isinstance(group, CustomerGroup) and event.payload.get("created"):
        enrol_group(group)


def register() -> None:
    events.subscribe(events.Kind.RELATION_ADDED, "sop.enrol_relation", on_relation_added)
    events.subscribe(events.Kind.RELATION_LOST, "sop.stop_relation", on_relation_lost)
    events.subscribe(events.Kind.GROUP_CHANGED, "sop.enrol_group", on_group_changed)
    events.subscribe(TAGGED, "sop.enrol_tagged", on_tagged)
    events.subscribe(STAGE_CHANGED, "sop.enrol_staged", on_stage_changed)
