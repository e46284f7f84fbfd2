"""The customer timeline: one small function per kind of event, so every writer records the same shape."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from siyu.core import events
from siyu.customers.models import Customer, TimelineEvent


def record(customer: Customer, kind: str, *, at=None, staff=None, actor=None, **data) -> TimelineEvent:
    return TimelineEvent.objects.create(
        org_id=customer.org_id, customer=customer, kind=kind, occurred_at=at or timezone.now(),
        staff=staff, actor=actor, data=data,
    )


def added(relation, *, at=None) -> TimelineEvent:
    return record(relation.customer, "added", at=at or relation.added_at, staff=relation.staff,
                  add_way=relation.add_way, state=relation.state)


def deleted_by_customer(relation, *, at=None) -> TimelineEvent:
    return record(relation.customer, "deleted_by_customer", at=at, staff=relation.staff)


def deleted_by_staff(relation, *, at=None) -> TimelineEvent:
    return record(relation.customer, "deleted_by_staff", at=at, staff=relation.staff)


def transferred_away(relation, *, at=None) -> TimelineEvent:
    return record(relation.customer, "transferred_away", at=at, staff=relation.staff)


def tagged(relation, tags, *, source: str, actor=None, source_ref: str = "") -> list[TimelineEvent]:
    """One "tagged" event per tag in ``tags`` (a tag or a list), written in one statement."""
    return _tag_events(relation, tags, "tagged", actor=actor, source=source, source_ref=source_ref)


def untagged(relation, tags, *, source: str, actor=None) -> list[TimelineEvent]:
    """One "untagged" event per tag in ``tags`` (a tag or a list), written in one statement."""
    return _tag_events(relation, tags, "untagged", actor=actor, source=source)


def _tag_events(relation, tags, kind: str, *, actor, **data) -> list[TimelineEvent]:
    tags = tags if isinstance(tags, list | tuple) else [tags]
    now = timezone.now()
    return TimelineEvent.objects.bulk_create([
        TimelineEvent(org_id=relation.org_id, customer_id=relation.customer_id, kind=kind, occurred_at=now,
                      staff=relation.staff, actor=actor, data={"tag": tag.name, "tag_id": tag.pk, **data})
        for tag in tags
    ])


@transaction.atomic
def joined_group(customer, group, *, at=None, scene: int | None = None) -> TimelineEvent:
    """Also the ``group.joined`` event, which behaviour rules subscribe to."""
    event = record(customer, "joined_group", at=at, group=group.name or group.chat_id, group_id=group.pk, scene=scene)
    events.emit(customer.org_id, events.Kind.GROUP_JOINED, customer, {"group_id": group.pk})
    return event


def left_group(customer, group, *, at=None, scene: int | None = None) -> TimelineEvent:
    return record(customer, "left_group", at=at, group=group.name or group.chat_id, group_id=group.pk, scene=scene)


def transfer_requested(transfer) -> TimelineEvent:
    return record(transfer.customer, "transfer_requested", staff=transfer.handover, actor=transfer.requested_by,
                  kind_of_transfer=transfer.kind, takeover=str(transfer.takeover), transfer_id=transfer.pk)


def transfer_finished(transfer) -> TimelineEvent:
    return record(transfer.customer, "transfer_finished", staff=transfer.takeover, kind_of_transfer=transfer.kind,
                  status=transfer.status, handover=str(transfer.handover), transfer_id=transfer.pk)


def chatted(message) -> TimelineEvent:
    return record(message.customer, "chatted", at=message.sent_at, staff=message.staff,
                  from_customer=message.from_customer, text=message.text[:200], msgtype=message.msgtype)


def ordered(order) -> TimelineEvent:
    return record(order.customer, "ordered", at=order.ordered_at, staff=order.staff, order_id=order.pk,
                  order_no=order.order_no, source=order.source, total=str(order.total),
                  products=[line.product.name for line in order.lines.all()][:10])


def stage_changed(customer, from_stage, to_stage, *, source: str, source_ref: str = "", actor=None, staff=None) -> TimelineEvent:
    return record(customer, "stage_changed", staff=staff, actor=actor, to_stage=to_stage.name, to_stage_id=to_stage.pk,
                  from_stage=from_stage.name if from_stage else "", from_stage_id=from_stage.pk if from_stage else None,
                  source=source, source_ref=source_ref)


def reminder_sent(reminder) -> TimelineEvent:
    return record(reminder.customer, "reminder_sent", staff=reminder.staff, reminder_id=reminder.pk,
                  reminder_kind=reminder.kind, title=reminder.title)


def note_added(note) -> TimelineEvent:
    return record(note.customer, "note_added", at=note.created_at, staff=note.staff, actor=note.author,
                  note_id=note.pk, text=note.text[:200])


def follow_up_scheduled(follow_up) -> TimelineEvent:
    return record(follow_up.customer, "follow_up_scheduled", at=follow_up.created_at, staff=follow_up.assignee,
                  actor=follow_up.created_by, follow_up_id=follow_up.pk, text=follow_up.text[:200],
                  due_at=follow_up.due_at.isoformat())


def follow_up_closed(follow_up) -> TimelineEvent:
    return record(follow_up.customer, "follow_up_closed", at=follow_up.closed_at, staff=follow_up.assignee,
                  actor=follow_up.closed_by, follow_up_id=follow_up.pk, text=follow_up.text[:200],
                  status=follow_up.status)
