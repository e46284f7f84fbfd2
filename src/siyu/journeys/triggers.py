"""What lets customers into journeys: reactions to the domain events the other apps emit.

Each reaction is a durable event delivery, so a trigger is never lost and may be handled twice; the entry is
keyed by the event (or, for a segment, by the membership span), which makes the second handling a no-op.
"""

from __future__ import annotations

from siyu.cdp.models import Event
from siyu.core import events
from siyu.core.events import DomainEvent
from siyu.customers.models import Customer
from siyu.customers.tagging import TAGGED
from siyu.journeys import engine
from siyu.journeys.models import Journey
from siyu.lifecycle.stages import STAGE_CHANGED
from siyu.segments.models import SegmentMembership
from siyu.segments.services import REFRESHED


def _journeys(org_id: int, trigger: str, refs=None):
    rows = Journey.objects.for_org(org_id).filter(trigger=trigger, status=Journey.Status.ACTIVE)
    if refs is not None:
        rows = rows.filter(trigger_ref__in=refs)
    return list(rows)


def _enter_all(journeys, customer_id: int | None, key: str) -> None:
    if customer_id is None or not journeys:
        return
    customer = Customer.objects.for_org(journeys[0].org_id).filter(pk=customer_id).first()
    if customer is None:
        return
    for journey in journeys:
        engine.enter(journey, customer, key=key)


def on_tagged(event: DomainEvent) -> None:
    journeys = _journeys(event.org_id, Journey.Trigger.TAG_ADDED, event.payload.get("tag_ids", []))
    _enter_all(journeys, event.payload.get("customer_id"), f"e{event.pk}")


def on_stage_changed(event: DomainEvent) -> None:
    journeys = _journeys(event.org_id, Journey.Trigger.STAGE_CHANGED, [event.payload.get("stage_id")])
    _enter_all(journeys, event.payload.get("customer_id"), f"e{event.pk}")


def on_order_recorded(event: DomainEvent) -> None:
    order = event.subject()
    if order is not None:
        _enter_all(_journeys(event.org_id, Journey.Trigger.ORDER_PLACED), order.customer_id, f"e{event.pk}")


def on_segment_refreshed(event: DomainEvent) -> None:
    """Persons who entered the segment since the journey began enter it (once per span in the segment)."""
    for journey in _journeys(event.org_id, Journey.Trigger.SEGMENT_ENTERED, [event.subject_id]):
        spans = (SegmentMembership.objects.for_org(event.org_id)
                 .filter(segment_id=event.subject_id, left_at__isnull=True, entered_at__gte=journey.created_at,
                         person__customer__isnull=False)
                 .values_list("pk", "person__customer_id"))
        for span, customer_id in spans:
            _enter_all([journey], customer_id, f"m{span}")


SWEEP_BATCH = 2000


def sweep_events(org_id: int | None = None) -> int:
    """Let in the customers whose CDP events an "event" journey waits for, from each journey's cursor on; the
    number of entries made. Each entry is keyed by the event, so a sweep that dies before moving the cursor
    enters nobody twice when the next one reads the same events."""
    journeys = Journey.objects.filter(trigger=Journey.Trigger.EVENT, status=Journey.Status.ACTIVE)
    if org_id is not None:
        journeys = journeys.filter(org_id=org_id)
    entered = 0
    for journey in journeys:
        rows = list(Event.objects.for_org(journey.org_id)
                    .filter(pk__gt=journey.event_cursor, name=journey.trigger_event, person__customer__isnull=False)
                    .order_by("pk").values_list("pk", "person__customer_id")[:SWEEP_BATCH])
        customers = Customer.objects.for_org(journey.org_id).in_bulk({customer_id for _pk, customer_id in rows})
        for event_id, customer_id in rows:
            if customer_id in customers and engine.enter(journey, customers[customer_id], key=f"ev{event_id}"):
                entered += 1
        if rows:
            Journey.objects.for_org(journey.org_id).filter(pk=journey.pk, event_cursor=journey.event_cursor).update(
                event_cursor=rows[-1][0])
    return entered


def register() -> None:
    events.subscribe(TAGGED, "journeys.tag_added", on_tagged)
    events.subscribe(STAGE_CHANGED, "journeys.stage_changed", on_stage_changed)
    events.subscribe(events.Kind.ORDER_RECORDED, "journeys.order_placed", on_order_recorded)
    events.subscribe(REFRESHED, "journeys.segment_entered", on_segment_refreshed)
