"""Event subscribers: what channels do when a friendship starts or a member leaves."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime

from siyu.core import events


def on_relation_added(event: events.DomainEvent) -> None:
    from siyu.channels import services

    relation = event.subject()
    if relation is None:
        return
    data = event.payload
    services.relation_added(relation, state=data.get("state") or "", welcome_code=data.get("welcome_code") or "",
                            event_time=parse_datetime(data["event_time"]) if data.get("event_time") else None)


def on_staff_departed(event: events.DomainEvent) -> None:
    from siyu.channels import services

    staff = event.subject()
    if staff is not None:
        services.staff_departed(staff)


def connect() -> None:
    events.subscribe(events.Kind.RELATION_ADDED, "channels.welcome", on_relation_added)
    events.subscribe(events.Kind.STAFF_DEPARTED, "channels.repick_staff", on_staff_departed)
