"""Durable domain events: what happened, written by the service that made it happen, in its own transaction.

A producer calls :func:`emit` inside the transaction that wrote the change. That writes one
:class:`DomainEvent` row and one :class:`EventDelivery` row per subscriber of the event's kind, so the event
exists exactly when the change does. Each delivery is a durable row: the dispatcher claims it, calls the
subscriber's handler, retries it with backoff when the handler raises, and keeps the last error where the
console shows it (事件投递) and an HQ admin can re-drive it. A handler runs at least once per event, so it must
be idempotent; nothing catches its errors for it.

Apps subscribe from ``AppConfig.ready()``::

    events.subscribe(events.Kind.RELATION_ADDED, "lifecycle.stage_on_add", handler)

and a handler takes the event: ``def handler(event: DomainEvent) -> None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow, PermanentFailure, requeue_failed
from siyu.core.tenancy import TenantModel

if TYPE_CHECKING:
    from siyu.orgs.models import Membership


class Kind(models.TextChoices):
    RELATION_ADDED = "relation.added", _("客户添加员工")
    RELATION_LOST = "relation.lost", _("客户关系结束")
    ORDER_RECORDED = "order.recorded", _("订单录入")
    MESSAGE_ARCHIVED = "message.archived", _("会话消息存档")
    GROUP_CHANGED = "group.changed", _("客户群变更")
    GROUP_JOINED = "group.joined", _("客户入群")
    FOLLOW_UP_SAVED = "follow_up.saved", _("跟进计划变更")
    STAFF_DEPARTED = "staff.departed", _("员工离职")


# Kinds that other apps add with define_kind(), beside the ones above.
_extra_kinds: dict[str, str] = {}
# kind -> subscriber name -> handler
_subscribers: dict[str, dict[str, Callable[[DomainEvent], None]]] = {}


def define_kind(value: str, label) -> str:
    """A new event kind from an app of its own (``"journey.entered"``); call it at import time or in ready()."""
    if value in Kind.values:
        raise ValueError(f"event kind {value!r} is already defined")
    _extra_kinds[value] = label
    return value


def kind_label(value: str) -> str:
    if value in Kind.values:
        return Kind(value).label
    return str(_extra_kinds.get(value, value))


def subscribe(kind: str, name: str, handler: Callable[[DomainEvent], None]) -> None:
    """Deliver every later event of ``kind`` to ``handler``; ``name`` ("app.reaction") identifies its deliveries."""
    kind = _check(kind)
    current = _subscribers.setdefault(kind, {}).get(name)
    if current is not None and current is not handler:
        raise ValueError(f"subscriber {name!r} of {kind!r} is already registered")
    _subscribers[kind][name] = handler


def subscribers(kind: str) -> dict[str, Callable[[DomainEvent], None]]:
    return dict(_subscribers.get(str(kind), {}))


class DomainEvent(TenantModel):
    kind = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=100)
    subject_id = models.BigIntegerField()
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["org", "kind", "created_at"], name="domainevent_org_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}#{self.subject_id}"

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)

    def subject(self):
        """The row the event is about, or None once it is gone (erased, deleted)."""
        model = apps.get_model(self.subject_type)
        return model._base_manager.filter(org_id=self.org_id, pk=self.subject_id).first()


class EventDelivery(DurableRow):
    """One subscriber's copy of one event."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.CharField(max_length=100)

    # Reactions come before the bulk lanes (sends, journeys), after deadline work: a new friend's tags and
    # stage should follow within seconds, but never at a welcome's expense.
    dispatch_lane: ClassVar[int] = 1


    def __str__(self) -> str:
        return f"{self.subscriber} ← {self.event_id}"

    @classmethod
    def perform_many(cls, rows: list[EventDelivery]) -> dict[int, Exception]:
        # One read for the chunk's events instead of one per delivery.
        models.prefetch_related_objects(rows, "event")
        return super().perform_many(rows)

    def perform(self) -> None:
        event = self.event
        handler = _subscribers.get(event.kind, {}).get(self.subscriber)
        if handler is None:
            raise PermanentFailure(f"nobody subscribes as {self.subscriber!r} to {event.kind!r} any more")
        handler(event)


def _check(kind) -> str:
    kind = str(kind)
    if kind not in Kind.values and kind not in _extra_kinds:
        raise ValueError(f"unknown event kind {kind!r}")
    return kind


def emit(org, kind: str, subject: models.Model, payload: dict | None = None) -> DomainEvent:
    """Record that ``kind`` happened to ``subject``, with one delivery per current subscriber.

    Call it inside the transaction that made the change: the event and its deliveries commit or roll back
    with it. ``payload`` must be JSON (what the subscribers need beyond the subject row itself).
    """
    return emit_many(org, kind, [subject], [payload or {}])[0]


def emit_many(org, kind: str, subjects: list[models.Model], payloads: list[dict] | None = None) -> list[DomainEvent]:
    """:func:`emit` for many subjects at once: two INSERT statements however many there are."""
    kind = _check(kind)
    org_id = getattr(org, "pk", org)
    payloads = payloads or [{} for _ in subjects]
    if not subjects:
        return []
    with transaction.atomic():
        created = DomainEvent.objects.bulk_create([
            DomainEvent(org_id=org_id, kind=kind, subject_type=subject._meta.label_lower, subject_id=subject.pk,
                        payload=payload)
            for subject, payload in zip(subjects, payloads, strict=True)
        ])
        EventDelivery.objects.bulk_create([
            EventDelivery(org_id=org_id, event=event, subscriber=name, idempotency_key=f"{event.pk}:{name}")
            for event in created for name in _subscribers.get(kind, {})
        ])
    return created


@transaction.atomic
def redrive(delivery: EventDelivery, *, by: Membership) -> EventDelivery:
    """``by`` queues a failed delivery again: pending, due now, attempts from zero; audited.

    Raises :class:`ValidationError` for a delivery that has not failed (it is still queued, running or done).
    """
    from siyu.orgs import audit

    previous = {"attempts": delivery.attempts, "last_error": delivery.last_error[:500]}
    if not requeue_failed(delivery):
        raise ValidationError(_("只有投递失败的事件可以重新投递。"))
    delivery.refresh_from_db()
    audit.record("event.delivery_redriven", org=delivery.org_id, actor=by.user, obj=delivery,
                 details={"kind": delivery.event.kind, "subscriber": delivery.subscriber, **previous})
    return delivery
