"""The schedule clock: tests move it instead of sleeping, and durable rows follow it."""

from datetime import datetime, timedelta, timezone

import pytest

from siyu.core import clock as core_clock
from siyu.core import durable
from siyu.core.dispatch import dispatch_once
from siyu.core.durable import DurableRow, RetryLater
from siyu.wecom.simulator import SimClock
from tests.durable_app.models import Chore, Effect
from tests.factories import make_org

S = DurableRow.Status


def test_real_time_by_default():
    before = datetime.now(timezone.utc)
    assert before <= core_clock.now() <= datetime.now(timezone.utc)
    assert core_clock.shift() == timedelta(0)


def test_the_fixture_moves_the_clock_forward_only(clock):
    start = clock.now()
    moved = clock.advance(days=2, hours=3)
    assert timedelta(days=2, hours=3) <= moved - start < timedelta(days=2, hours=3, seconds=5)
    target = datetime(2100, 6, 1, tzinfo=timezone.utc)
    assert clock.set(target) - target < timedelta(seconds=5)
    with pytest.raises(ValueError):
        clock.set(target - timedelta(days=1))
    with pytest.raises(ValueError):
        clock.advance(seconds=-1)
    with pytest.raises(ValueError):
        core_clock.set_to(datetime(2100, 6, 2))  # naive: which instant is that?


def test_an_attached_simulator_clock_moves_by_the_same_amount(clock):
    sim_clock = SimClock(1_717_200_000, frozen=True)
    clock.attach(sim_clock)
    clock.advance(days=3)
    assert sim_clock.now() == 1_717_200_000 + 3 * 86400


@pytest.mark.django_db
def test_a_row_due_in_two_days_is_claimed_once_the_clock_gets_there(clock):
    org = make_org()
    row = Chore.objects.create(org=org, idempotency_key="later", due_at=core_clock.now() + timedelta(days=2))
    assert dispatch_once(owner="w") == 0
    clock.advance(days=1, hours=23)
    assert dispatch_once(owner="w") == 0
    clock.advance(hours=1, seconds=1)
    assert dispatch_once(owner="w") == 1
    row.refresh_from_db()
    assert row.status == S.DONE
    assert Effect.objects.filter(key="later").count() == 1


@pytest.mark.django_db
def test_retry_backoff_and_expired_leases_follow_the_clock(clock):
    org = make_org()
    row = Chore.objects.create(org=org, idempotency_key="retry")
    (claimed,) = durable.claim(Chore, owner="w1", limit=10, lease_seconds=600)
    # The worker died holding the lease: nobody may take the row until the lease runs out on the clock.
    assert durable.claim(Chore, owner="w2", limit=10, lease_seconds=600) == []
    clock.advance(minutes=10, seconds=1)
    (again,) = durable.claim(Chore, owner="w2", limit=10, lease_seconds=600)
    assert again.pk == row.pk
    assert durable.fail(again, "w2", RetryLater(3600)) == S.PENDING
    clock.advance(minutes=59)
    assert durable.claim(Chore, owner="w3", limit=10, lease_seconds=60) == []
    clock.advance(minutes=1, seconds=1)
    assert [r.pk for r in durable.claim(Chore, owner="w3", limit=10, lease_seconds=60)] == [row.pk]
