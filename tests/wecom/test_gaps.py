"""A silence in WeCom's deliveries is shown in the console, and `siyu wecom reconcile --since` repairs it."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from siyu.core.models import Job
from siyu.wecom.models import CallbackEvent
from siyu.wecom.sync import JOB_KIND
from tests.factories import client_for
from tests.wecom.helpers import connect


def _event(org, hours_ago: float, n: int):
    """A processed callback received ``hours_ago`` (received_at is set on insert, so it is moved after)."""
    event = CallbackEvent.objects.create(org=org, idempotency_key=f"k{n}", event="change_external_contact",
                                         payload={}, xml="<xml/>", status=CallbackEvent.Status.DONE)
    CallbackEvent.objects.for_org(org).filter(pk=event.pk).update(received_at=timezone.now() - timedelta(hours=hours_ago))
    return event


def test_the_events_page_warns_after_a_long_silence(world):
    connect(world.org)
    event = _event(world.org, 1, 1)
    page = client_for(world.admin).get("/settings/wecom/events/").content.decode()
    assert 'data-testid="callback-gap"' not in page
    CallbackEvent.objects.for_org(world.org).filter(pk=event.pk).update(received_at=timezone.now() - timedelta(hours=9))
    page = client_for(world.admin).get("/settings/wecom/events/").content.decode()
    assert 'data-testid="callback-gap"' in page and "9 小时" in page


def test_reconcile_since_lists_the_silences_and_queues_a_full_sync(world, django_capture_on_commit_callbacks):
    connect(world.org)
    for n, hours_ago in enumerate([30, 29, 20, 1]):
        _event(world.org, hours_ago, n)
    out = io.StringIO()
    since = timezone.localtime(timezone.now() - timedelta(hours=31)).strftime("%Y-%m-%d %H:%M")
    call_command("wecom", "reconcile", "--org", world.org.slug, "--since", since, stdout=out)
    text = out.getvalue()
    assert text.count("No callbacks from") == 2  # 29 h → 20 h and 20 h → 1 h ago; the rest are short
    assert Job.objects.for_org(world.org).filter(kind=JOB_KIND).exists()
    with pytest.raises(CommandError):
        call_command("wecom", "reconcile", "--org", world.org.slug, "--since", "2026-13-45 99:00")
