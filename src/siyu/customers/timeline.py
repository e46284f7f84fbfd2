"""The customer timeline: one small function per kind of event, so every writer records the same shape."""

from __future__ import annotations

from django.utils import timezone

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


def tagged(relation, tag, *, source: str, actor=None, source_ref: str = "") -> TimelineEvent:
    return record(relation.customer, "tagged", staff=relation.staff, actor=actor, tag=tag.name, tag_id=tag.pk,
                  source=source, source_ref=source_ref)


def untagged(relation, tag, *, source: str, actor=None) -> TimelineEvent:
    return record(relation.customer, "untagged", staff=relation.staff, actor=actor, tag=tag.name, tag_id=tag.pk, source=source)


def joined_group(customer, group, *, at=None, scene: int | None = None) -> TimelineEvent:
    return record(customer, "joined_group", at=at, group=group.name or group.chat_id, group_id=group.pk, scene=scene)


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
