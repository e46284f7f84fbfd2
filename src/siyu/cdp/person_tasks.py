"""Keeping persons in step: every new WeCom friend gets its person, and traits/RFM are refreshed nightly.

Why the ``relation.added`` domain event rather than a call inside the customers service: the event is durable and
retried, so a failed person write never loses or rolls back the WeCom mirror, and the customers app stays free of
any dependency on the CDP. Customers synced in bulk (or mirrored before this existed) get their person from the
data migration or on first use (``identity.person_for_customer``).
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.core import events


def on_relation_added(event: events.DomainEvent) -> None:
    from siyu.cdp import identity

    relation = event.subject()
    if relation is not None:
        identity.sync_customer(relation.customer)


def on_order_recorded(event: events.DomainEvent) -> None:
    """A WeCom customer's order belongs to the customer's person; the person's order totals follow it."""
    from siyu.cdp import identity, traits
    from siyu.cdp.models import Order

    order = event.subject()
    if order is None:
        return
    if order.person_id is None and order.customer_id is not None:
        person = identity.person_for_customer(order.customer)
        Order.objects.for_org(order.org_id).filter(pk=order.pk).update(person=person)
    elif order.person_id is not None:
        person = identity.survivor(order.person)
    else:
        return
    traits.refresh_orders(person)


def connect() -> None:
    events.subscribe(events.Kind.RELATION_ADDED, "cdp.person_for_customer", on_relation_added)
    events.subscribe(events.Kind.ORDER_RECORDED, "cdp.person_order_totals", on_order_recorded)


# 19:40 UTC is 03:40 in Beijing: after the day's orders, before anyone opens the console.
@db_periodic_task(crontab(minute="40", hour="19"))
def refresh_traits_nightly() -> None:
    from siyu.cdp import traits
    from siyu.orgs.models import Organization

    for org_id in Organization.objects.values_list("pk", flat=True):
        traits.refresh(org_id)


RAW_BATCH_RETENTION = 7  # days a normalized raw batch is kept for re-drives; it quotes traits and context


@db_periodic_task(crontab(minute="50", hour="19"))
def purge_normalized_raw_batches() -> int:
    """Delete raw event batches normalized more than a week ago: what they hold now lives in events and persons."""
    from datetime import timedelta

    from django.utils import timezone

    from siyu.cdp.models import RawBatch

    cutoff = timezone.now() - timedelta(days=RAW_BATCH_RETENTION)
    deleted, _rows = RawBatch._base_manager.filter(status=RawBatch.Status.DONE, received_at__lt=cutoff).delete()
    return deleted
