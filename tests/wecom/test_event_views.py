"""The callback event log: retries with backoff until failed (last error visible), leases that expire are
driven again, the console list with its filters, the detail without the XML, and re-driving failed events."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from siyu.core.dispatch import dispatch_once
from siyu.orgs.models import AuditEntry
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import CallbackEvent, WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from tests.factories import client_for
from tests.wecom.helpers import event_xml, post_callback

_keys = itertools.count(1)


@pytest.fixture
def wired(world, settings):
    """The organization connected to a running simulator (which knows no customer groups)."""
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    sim = Simulator("ww0a1b2c3d4e5f6a7b", "events-secret", "1000002", generate_token(), generate_encoding_aes_key(),
                    clock=SimClock(frozen=True))
    base_url, stop = run_in_thread(sim)
    connection = WeComConnection.objects.create(
        org=world.org, corp_id=sim.corp_id, agent_id="1000002", secret=sim.corp_secret, callback_token=generate_token(),
        encoding_aes_key=generate_encoding_aes_key(), api_base=f"{base_url}/cgi-bin/",
    )
    forget_cryptor(world.org.slug)
    yield connection
    stop()
    sim.close()


def make_event(org, event="change_external_contact", change_type="edit_external_contact", status="done", **fields):
    payload = {"Event": event, "ChangeType": change_type, "UserID": "zhangsan", "ExternalUserID": "wmAAAA"}
    return CallbackEvent.objects.create(
        org=org, event=event, change_type=change_type, status=status, payload=payload,
        xml="<xml><Encrypt>SECRET-ENVELOPE</Encrypt></xml>", idempotency_key=f"k{next(_keys)}", **fields,
    )


def due_in(event) -> float:
    return (event.due_at - timezone.now()).total_seconds()


# -- retries ----------------------------------------------------------------------------------------------------
def test_a_failing_event_is_retried_with_backoff_then_fails_with_its_error_shown(world, wired):
    xml = event_xml("change_external_chat", "update", ChatId="wrUNKNOWN", UpdateDetail="change_name")
    assert post_callback(Client(), world.org, wired, xml).status_code == 200
    event = CallbackEvent.objects.for_org(world.org).get()

    for attempt in range(1, 6):
        dispatch_once(owner="test")
        event.refresh_from_db()
        assert event.attempts == attempt
        assert "90501" in event.last_error  # groupchat/get: the simulator knows no such group
        if attempt < 5:
            backoff = CallbackEvent.retry_base_seconds * 2 ** (attempt - 1)  # 5, 10, 20, 40 seconds
            assert event.status == "pending" and backoff - 2 < due_in(event) <= backoff
            CallbackEvent.objects.filter(pk=event.pk).update(due_at=timezone.now())  # time passes
    assert (event.status, event.attempts, event.max_attempts) == ("failed", 5, 5)
    assert event.finished_at is not None
    dispatch_once(owner="test")
    event.refresh_from_db()
    assert event.attempts == 5, "a failed event is not picked up again"

    admin = client_for(world.admin)
    listing = admin.get(reverse("wecom:events"), {"status": "failed"}).content.decode()
    assert "change_external_chat / update" in listing and "90501" in listing and 'data-status="failed"' in listing
    detail = admin.get(reverse("wecom:event_detail", args=[event.pk])).content.decode()
    assert "wrUNKNOWN" in detail and 'data-testid="last-error"' in detail and "90501" in detail
    assert "<Encrypt>" not in detail and "&lt;xml&gt;" not in detail, "the payload is shown, never the XML"
    assert reverse("wecom:event_redrive", args=[event.pk]) in detail


def test_an_event_whose_lease_expired_is_driven_again(world):
    # A worker claimed it and died: the lease ran out, so the dispatcher's next pass takes it over.
    event = make_event(world.org, event="customer_acquisition", change_type="balance_low", status="running",
                       attempts=1, lease_owner="dead-worker", lease_until=timezone.now() - timedelta(seconds=1))
    held = make_event(world.org, event="customer_acquisition", change_type="balance_low", status="running",
                      attempts=1, lease_owner="live-worker", lease_until=timezone.now() + timedelta(minutes=1))
    dispatch_once(owner="test")
    event.refresh_from_db()
    held.refresh_from_db()
    assert (event.status, event.attempts) == ("done", 2)
    assert (held.status, held.lease_owner) == ("running", "live-worker")


# -- the console ----------------------------------------------------------------------------------------------------
def test_the_list_filters_by_status_and_event_type(world):
    failed = make_event(world.org, status="failed", last_error="WeComError: boom", attempts=5)
    pending = make_event(world.org, event="change_contact", change_type="create_user", status="pending")
    done = make_event(world.org, event="change_external_tag", change_type="create")
    foreign = make_event(world.other_org, event="change_external_chat", change_type="dismiss", status="failed")
    admin = client_for(world.admin)

    def rows(**query) -> list[str]:
        page = admin.get(reverse("wecom:events"), query)
        assert page.status_code == 200
        html = page.content.decode()
        return sorted(e.change_type for e in (failed, pending, done, foreign)
                      if reverse("wecom:event_detail", args=[e.pk]) in html)

    assert rows() == ["create", "create_user", "edit_external_contact"]
    assert rows(status="failed") == ["edit_external_contact"]
    assert rows(status="pending") == ["create_user"]
    assert rows(event="change_external_tag") == ["create"]
    assert rows(status="done", event="change_contact") == []
    assert rows(status="nonsense") == ["create", "create_user", "edit_external_contact"]
    assert "WeComError: boom" in admin.get(reverse("wecom:events")).content.decode()
    assert admin.get(reverse("wecom:event_detail", args=[foreign.pk])).status_code == 404


def test_redrive_queues_a_failed_event_again_and_is_audited(world):
    event = make_event(world.org, event="customer_acquisition", change_type="balance_low", status="failed",
                       attempts=5, last_error="RuntimeError: was down", finished_at=timezone.now())
    admin = client_for(world.admin)
    response = admin.post(reverse("wecom:event_redrive", args=[event.pk]), follow=True)
    assert "事件已重新排队" in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.attempts, event.finished_at) == ("pending", 0, None)
    assert abs(due_in(event)) < 5
    entry = AuditEntry.objects.for_org(world.org).get(action="wecom.event_redriven")
    assert entry.actor == world.admin.user and entry.object_id == str(event.pk)
    assert entry.details == {"event": "customer_acquisition", "change_type": "balance_low", "attempts": 5,
                             "last_error": "RuntimeError: was down"}

    dispatch_once(owner="test")
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("done", 1, "")

    # Only failed events: a done one is left alone, with a message saying why.
    response = admin.post(reverse("wecom:event_redrive", args=[event.pk]), follow=True)
    assert "只有处理失败的事件可以重新处理" in response.content.decode()
    event.refresh_from_db()
    assert event.status == "done"
    assert AuditEntry.objects.for_org(world.org).filter(action="wecom.event_redriven").count() == 1


def test_event_pages_are_for_administrators_only(world):
    event = make_event(world.org, status="failed")
    for member in (world.guide_e1, world.s1_manager):
        client = client_for(member)
        assert client.get(reverse("wecom:events")).status_code == 403
        assert client.get(reverse("wecom:event_detail", args=[event.pk])).status_code == 403
        assert client.post(reverse("wecom:event_redrive", args=[event.pk])).status_code == 403
    assert client_for(world.admin).get(reverse("wecom:event_redrive", args=[event.pk])).status_code == 405
    event.refresh_from_db()
    assert event.status == "failed"


def test_the_menu_lists_the_new_pages_for_administrators(world):
    html = client_for(world.admin).get(reverse("wecom:events")).content.decode()
    assert reverse("wecom:sync") in html and 'aria-current="page">回调事件' in html
