"""Where the lifecycle automation listens: new friends, lost friends, archived messages, group joins, orders,
follow-ups.

Each handler is a subscriber of a durable domain event: it runs in the dispatcher after the producer's
transaction committed, at least once, and an error it raises is retried and shown on the event deliveries
page. So every handler is idempotent and lets its errors out.
"""

from __future__ import annotations

from django.db import transaction

from siyu.core import events
from siyu.core.events import DomainEvent, Kind
from siyu.customers.models import Customer


def on_relation_added(event: DomainEvent) -> None:
    """A new friend: placed in the first stage (back from 流失 if they return), then channel rules."""
    from siyu.lifecycle import rules, stages

    relation = event.subject()
    if relation is None:
        return
    customer = relation.customer
    with transaction.atomic():
        current = stages.stage_of(customer)
        placed = stages.lifecycle_of(customer).stage_id is not None
        if not placed:
            stages.move_customer(customer, stages.first_stage(customer.org_id), source="added", staff=relation.staff,
                                 source_ref=f"relation:{relation.pk}")
        elif current.is_lost:
            stages.move_customer(customer, stages.first_stage(customer.org_id), source="returned", staff=relation.staff,
                                 source_ref=f"relation:{relation.pk}")
    rules.evaluate_channel(relation, event.payload.get("state") or relation.state)


def on_relation_lost(event: DomainEvent) -> None:
    """A friendship ended: reminders to that staff member stop, the loss is alerted, and a customer nobody is
    friends with any more moves to the lost stage."""
    from siyu.lifecycle import loss, reminders, stages

    relation = event.subject()
    if relation is None:
        return
    reason = event.payload["reason"]
    with transaction.atomic():
        reminders.cancel_for_relation(relation, reason)
        loss.record_loss(relation, reason)
        customer = Customer.objects.for_org(relation.org_id).get(pk=relation.customer_id)
        lost = stages.lost_stage(relation.org_id)
        if not customer.is_friend and lost is not None:
            stages.move_customer(customer, lost, source="lost", staff=relation.staff, source_ref=f"relation:{relation.pk}")


def on_message_archived(event: DomainEvent) -> None:
    """Keyword rules read each new archived message."""
    from siyu.lifecycle import rules

    message = event.subject()
    if message is None or message.customer_id is None or not message.text:
        return
    rules.process_messages(message.org_id, [message])


def on_group_joined(event: DomainEvent) -> None:
    """A customer joined a group: behaviour rules on group joins."""
    from siyu.lifecycle import rules

    customer = event.subject()
    if customer is None:
        return
    group_id = str(event.payload.get("group_id", ""))
    rules.evaluate_event(event.org_id, customer, "group_joined", group_id, event_id=group_id)


def on_order_recorded(event: DomainEvent) -> None:
    """A new order: repurchase reminders for products with a cycle, then purchase rules."""
    from siyu.lifecycle import reminders, rules

    order = event.subject()
    if order is None or order.customer_id is None:
        return  # a marketplace buyer not (yet) a WeCom customer: no guide to remind, no customer rules
    reminders.schedule_repurchase(order)
    rules.evaluate_order(order)


def on_follow_up_saved(event: DomainEvent) -> None:
    """A follow-up (跟进计划) was planned or closed: its reminder follows."""
    from siyu.lifecycle import reminders

    follow_up = event.subject()
    if follow_up is not None:
        reminders.sync_follow_up(follow_up)


def connect() -> None:
    events.subscribe(Kind.RELATION_ADDED, "lifecycle.stage_and_channel_rules", on_relation_added)
    events.subscribe(Kind.RELATION_LOST, "lifecycle.loss", on_relation_lost)
    events.subscribe(Kind.MESSAGE_ARCHIVED, "lifecycle.keyword_rules", on_message_archived)
    events.subscribe(Kind.GROUP_JOINED, "lifecycle.group_rules", on_group_joined)
    events.subscribe(Kind.ORDER_RECORDED, "lifecycle.repurchase_and_purchase_rules", on_order_recorded)
    events.subscribe(Kind.FOLLOW_UP_SAVED, "lifecycle.follow_up_reminder", on_follow_up_saved)
    from siyu.lifecycle import profile

    profile.register()
