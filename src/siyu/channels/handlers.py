"""Signal receivers: what channels do when a friendship starts or a member leaves."""

from __future__ import annotations

from siyu.customers.models import Relation
from siyu.customers.signals import relation_added
from siyu.orgs.models import Staff
from siyu.orgs.staff import staff_departed


def on_relation_added(sender, relation, state="", welcome_code="", event_time=None, **kwargs):
    from siyu.channels import services

    services.relation_added(relation, state=state or "", welcome_code=welcome_code or "", event_time=event_time)


def on_staff_departed(sender, staff, **kwargs):
    from siyu.channels import services

    services.staff_departed(staff)


def connect() -> None:
    relation_added.connect(on_relation_added, sender=Relation, dispatch_uid="channels.relation_added")
    staff_departed.connect(on_staff_departed, sender=Staff, dispatch_uid="channels.staff_departed")
