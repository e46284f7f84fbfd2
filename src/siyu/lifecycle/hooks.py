"""Where the lifecycle automation listens: new friends, lost friends, archived messages, group joins, orders.

Receivers run after the writer's transaction commits and never raise into it: a failure here is logged and
must not undo or retry the event that caused it (a WeCom callback, an archive fetch, an order import).
"""

from __future__ import annotations

import functools
import logging

from django.db import transaction
from django.db.models.signals import post_save

from siyu.cdp.models import Order
from siyu.cdp.services import order_recorded
from siyu.customers.models import Customer, FollowUp, Relation, TimelineEvent
from siyu.customers.signals import relation_added, relation_lost

log = logging.getLogger(__name__)


def _safe(receiver):
    @functools.wraps(receiver)
    def guarded(*args, **kwargs):
        try:
            return receiver(*args, **kwargs)
        except Exception:  # noqa: BLE001 - see the module docstring
            log.exception("lifecycle hook %s failed", receiver.__name__)
            return None

    return guarded


@_safe
def on_relation_added(sender, relation: Relation, state: str = "", **kwargs) -> None:
    """A new friend: placed in the first stage (back from 流失 if they return), then channel rules."""
    from siyu.lifecycle import rules, stages

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
    rules.evaluate_channel(relation, state or relation.state)


@_safe
def on_relation_lost(sender, relation: Relation, reason: str, **kwargs) -> None:
    """A friendship ended: reminders to that staff member stop, the loss is alerted, and a customer nobody is
    friends with any more moves to the lost stage."""
    from siyu.lifecycle import loss, reminders, stages

    with transaction.atomic():
        reminders.cancel_for_relation(relation, reason)
        loss.record_loss(relation, reason)
        customer = Customer.objects.for_org(relation.org_id).get(pk=relation.customer_id)
        lost = stages.lost_stage(relation.org_id)
        if not customer.is_friend and lost is not None:
            stages.move_customer(customer, lost, source="lost", staff=relation.staff, source_ref=f"relation:{relation.pk}")


def on_message_archived(sender, message, **kwargs) -> None:
    """Keyword rules read each new archived message once the archive's transaction has committed."""
    if message.customer_id is None or not message.text:
        return
    transaction.on_commit(functools.partial(_run_keyword_rules, message), robust=True)


@_safe
def _run_keyword_rules(message) -> None:
    from siyu.lifecycle import rules

    rules.process_messages(message.org_id, [message])


def on_timeline_event(sender, instance: TimelineEvent, created: bool, **kwargs) -> None:
    """Group joins reach behaviour rules through the timeline event the groups service writes for each."""
    if created and instance.kind == "joined_group":
        transaction.on_commit(functools.partial(_run_group_rules, instance), robust=True)


@_safe
def _run_group_rules(event: TimelineEvent) -> None:
    from siyu.lifecycle import rules

    rules.evaluate_event(event.org_id, event.customer, "group_joined", str(event.data.get("group_id", "")),
                         event_id=f"{event.data.get('group_id', '')}")


@_safe
def on_order_recorded(sender, order: Order, **kwargs) -> None:
    """A new order: repurchase reminders for products with a cycle, then purchase rules."""
    from siyu.lifecycle import reminders, rules

    reminders.schedule_repurchase(order)
    rules.evaluate_order(order)


def on_follow_up_saved(sender, instance, **kwargs) -> None:
    """A follow-up (跟进计划) was set, moved or closed: its reminder follows once the write commits."""
    transaction.on_commit(functools.partial(_sync_follow_up, instance), robust=True)


@_safe
def _sync_follow_up(follow_up) -> None:
    from siyu.lifecycle import reminders

    reminders.sync_follow_up(follow_up)


def connect() -> None:
    relation_added.connect(on_relation_added, sender=Relation, dispatch_uid="lifecycle.relation_added")
    relation_lost.connect(on_relation_lost, sender=Relation, dispatch_uid="lifecycle.relation_lost")
    order_recorded.connect(on_order_recorded, sender=Order, dispatch_uid="lifecycle.order_recorded")
    post_save.connect(on_timeline_event, sender=TimelineEvent, dispatch_uid="lifecycle.timeline_event")
    post_save.connect(on_follow_up_saved, sender=FollowUp, dispatch_uid="lifecycle.follow_up")
    try:
        from siyu.wecom.archive import message_archived
    except ImportError:  # the session archive lands separately; until then nothing emits archived messages
        log.debug("siyu.wecom.archive.message_archived not available yet")
    else:
        from siyu.wecom.models import ChatMessage

        message_archived.connect(on_message_archived, sender=ChatMessage, dispatch_uid="lifecycle.message_archived")
    from siyu.lifecycle import profile

    profile.register()
