"""Durable domain events: emit writes the event and one delivery per subscriber in the producer's transaction;
a subscriber that raises is retried with backoff, its error shows on the console page, and re-drive works."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from siyu.core import events
from siyu.core.durable import DurableRow
from siyu.core.events import DomainEvent, EventDelivery
from siyu.orgs.models import AuditEntry
from siyu.orgs.roles import Role
from tests.durable_app.models import Chore, Effect
from tests.durable_app.reactions import CHORE_NOTED
from tests.factories import client_for, drain, make_member, make_org, make_store

S = DurableRow.Status
SUBSCRIBER = "durable_app.record_effect"


@pytest.fixture
def org(db):
    return make_org()


def note(org, key: str, **payload) -> DomainEvent:
    chore = Chore.objects.create(org=org, idempotency_key=f"subject-{key}", due_at=timezone.now() + timedelta(days=1))
    return events.emit(org, CHORE_NOTED, chore, {"key": key, **payload})


def test_emit_writes_the_event_and_one_delivery_per_subscriber(org):
    event = note(org, "a")
    assert (event.kind, event.subject_type, event.payload) == (CHORE_NOTED, "durable_app.chore", {"key": "a"})
    assert event.subject().idempotency_key == "subject-a"
    [delivery] = EventDelivery.objects.for_org(org)
    assert (delivery.event_id, delivery.subscriber, delivery.status) == (event.pk, SUBSCRIBER, S.PENDING)
    assert delivery.idempotency_key == f"{event.pk}:{SUBSCRIBER}"
    assert not Effect.objects.exists(), "nothing reacts before the dispatcher delivers"

    drain()

    delivery.refresh_from_db()
    assert delivery.status == S.DONE
    assert list(Effect.objects.filter(key="a").values_list("key", flat=True)) == ["a"]


def test_an_event_rolls_back_with_its_producer(org):
    with pytest.raises(RuntimeError), transaction.atomic():
        note(org, "rolled-back")
        raise RuntimeError("the producer's write failed")
    assert not DomainEvent.objects.exists()
    assert not EventDelivery.objects.exists()


def test_unknown_kinds_are_refused(org):
    chore = Chore.objects.create(org=org, idempotency_key="x")
    with pytest.raises(ValueError):
        events.emit(org, "no.such_kind", chore)
    with pytest.raises(ValueError):
        events.subscribe("no.such_kind", "x.y", lambda event: None)


def test_a_subscriber_that_raises_is_retried_with_backoff_shown_and_re_driven(org):
    admin = make_member(org, Role.HQ_ADMIN)
    note(org, "stuck", blocked=True)
    [delivery] = EventDelivery.objects.for_org(org)
    backoffs = []
    for attempt in range(1, delivery.max_attempts + 1):
        before = timezone.now()
        drain()
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.last_error == "RuntimeError: stuck is blocked"
        if attempt < delivery.max_attempts:
            assert delivery.status == S.PENDING
            backoffs.append((delivery.due_at - before).total_seconds())
            EventDelivery.objects.filter(pk=delivery.pk).update(due_at=timezone.now())  # wait out the backoff
    assert delivery.status == S.FAILED
    # 10 s, 20 s, 40 s, 80 s: each wait twice the one before.
    assert [round(b / 10) * 10 for b in backoffs] == [10, 20, 40, 80]
    assert not Effect.objects.filter(key="stuck").exists()

    client = client_for(admin)
    page = client.get(reverse("core:event_deliveries"), {"status": "failed"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "RuntimeError: stuck is blocked" in html and SUBSCRIBER in html
    redrive_url = reverse("core:event_delivery_redrive", args=[delivery.pk])
    assert redrive_url in html

    Effect.objects.create(org=org, key="unblock:stuck", by="test")
    response = client.post(redrive_url)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (S.PENDING, 0)
    entry = AuditEntry.objects.for_org(org).get(action="event.delivery_redriven")
    assert entry.details["subscriber"] == SUBSCRIBER and entry.details["attempts"] == delivery.max_attempts

    drain()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (S.DONE, 1, "")
    assert Effect.objects.filter(key="stuck").count() == 1
    # Re-driving a delivery that has not failed changes nothing.
    client.post(redrive_url)
    delivery.refresh_from_db()
    assert delivery.status == S.DONE
    assert AuditEntry.objects.for_org(org).filter(action="event.delivery_redriven").count() == 1


def test_the_deliveries_page_is_for_hq_and_shows_only_the_own_organization(org):
    note(org, "mine", blocked=True)
    other = make_org()
    note(other, "theirs", blocked=True)
    drain()
    admin = make_member(org, Role.HQ_ADMIN)
    page = client_for(admin).get(reverse("core:event_deliveries"))
    rows = list(page.context["page"])
    assert [r.event.payload["key"] for r in rows] == ["mine"]
    store = make_store(org)
    for role in (Role.STORE_MANAGER, Role.GUIDE):
        assert client_for(make_member(org, role, store=store)).get(reverse("core:event_deliveries")).status_code == 403
    theirs = EventDelivery.objects.for_org(other).get()
    response = client_for(admin).post(reverse("core:event_delivery_redrive", args=[theirs.pk]))
    assert response.status_code == 404
