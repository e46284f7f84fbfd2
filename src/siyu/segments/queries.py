"""Reads of segments for a console viewer: always through ``Person.visible_to`` of the member asking."""

from __future__ import annotations

from django.utils import timezone

from siyu.cdp.models import Person
from siyu.segments.compiler import Compiler


def matching_visible_to(viewer, checked_rule: dict, *, now=None):
    """The persons ``viewer`` may see whom a checked rule selects (the builder's example members)."""
    return (Person.objects.visible_to(viewer).filter(merged_into__isnull=True)
            .filter(Compiler(viewer.org_id, now=now or timezone.now()).compile(checked_rule)))
