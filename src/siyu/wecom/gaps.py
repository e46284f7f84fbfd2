"""Gaps in WeCom's callback deliveries: when our server was down, WeCom retried for seconds and gave up, so
what happened meanwhile is only repaired by a reconcile (the nightly full sync or ``siyu wecom reconcile``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from siyu.wecom.models import CallbackEvent, WeComConnection


def silence(org, *, now: datetime | None = None) -> timedelta | None:
    """How long no callback has arrived for a connected ``org``, when longer than the warning threshold."""
    now = now or timezone.now()
    if not WeComConnection.objects.for_org(org).filter(is_active=True).exists():
        return None
    last = CallbackEvent.objects.for_org(org).order_by("-received_at").values_list("received_at", flat=True).first()
    if last is None:
        return None  # nothing ever arrived: a new connection, checked by the preflight instead
    quiet = now - last
    return quiet if quiet.total_seconds() > settings.WECOM_CALLBACK_GAP_WARNING else None


def silences_since(org, since: datetime, *, now: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """Periods since ``since`` longer than the threshold without any callback: ``[(from, to), …]``."""
    now = now or timezone.now()
    threshold = timedelta(seconds=settings.WECOM_CALLBACK_GAP_WARNING)
    times = list(CallbackEvent.objects.for_org(org).filter(received_at__gte=since)
                 .order_by("received_at").values_list("received_at", flat=True))
    edges = [since, *times, now]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b - a > threshold]
