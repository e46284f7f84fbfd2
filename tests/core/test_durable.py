"""Durable rows: claiming with a lease, settling, retries and idempotency, on SQLite and PostgreSQL alike."""

import threading
from datetime import timedelta
from itertools import count

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from siyu.core import durable
from siyu.core.dispatch import dispatch_once
from siyu.core.durable import DurableRow, PermanentFailure, RetryLater
from tests.durable_app.models import Chore, Effect, UrgentChore
from tests.factories import make_org

S = DurableRow.Status
_keys = count(1)


def make_chore(org, **fields) -> Chore:
    fields.setdefault("idempotency_key", f"chore-{next(_keys)}")
    return Chore.objects.create(org=org, **fields)


def claim(owner="w1", limit=100, lease_seconds=60):
    return durable.claim(Chore, owner=owner, limit=limit, lease_seconds=lease_seconds)


def expire_leases(*rows):
    Chore.objects.filter(pk__in=[r.pk for r in rows]).update(lease_until=timezone.now() - timedelta(seconds=1))


def make_due(*rows):
    Chore.objects.filter(pk__in=[r.pk for r in rows]).update(due_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def org(db):
    return make_org()


# -- claiming -------------------------------------------------------------------------------------------------
def test_claim_leases_due_rows_only(org):
    due = make_chore(org)
    future = make_chore(org, due_at=timezone.now() + timedelta(hours=1))
    before = timezone.now()

    claimed = claim(owner="w1", lease_seconds=60)

    assert [c.pk for c in claimed] == [due.pk]
    row = claimed[0]
    assert row.status == S.RUNNING
    assert row.lease_owner == "w1"
    assert row.attempts == 1
    assert before + timedelta(seconds=59) < row.lease_until <= timezone.now() + timedelta(seconds=60)
    future.refresh_from_db()
    assert (future.status, future.attempts, future.lease_owner) == (S.PENDING, 0, "")
    # A leased row is not claimable again while its lease runs.
    assert claim(owner="w2") == []


def test_claim_respects_limit_and_due_order(org):
    now = timezone.now()
    hours = [-1, -3, -2, -5, -4]
    rows = {h: make_chore(org, due_at=now + timedelta(hours=h)) for h in hours}

    first = claim(limit=2)
    second = claim(limit=2)
    third = claim(limit=2)

    assert [r.pk for r in first] == [rows[-5].pk, rows[-4].pk]
    assert [r.pk for r in second] == [rows[-3].pk, rows[-2].pk]
    assert [r.pk for r in third] == [rows[-1].pk]
    assert claim() == []


def test_claim_never_takes_more_than_the_limit(org):
    # Rows due at the same instant: the shape that once let PostgreSQL's planner re-run the locking subquery.
    now = timezone.now()
    Chore.objects.bulk_create(Chore(org=org, idempotency_key=f"same-{i}", due_at=now) for i in range(30))
    sizes = [len(claim(limit=7)) for _ in range(6)]
    assert sizes == [7, 7, 7, 7, 2, 0]


def test_claim_skips_settled_and_cancelled_rows(org):
    for status in (S.DONE, S.FAILED, S.CANCELLED):
        make_chore(org, status=status)
    assert claim() == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claimers_never_share_a_row_and_together_take_all():
    org = make_org()
    Chore.objects.bulk_create(Chore(org=org, idempotency_key=f"c{i}") for i in range(500))
    all_ids = set(Chore.objects.values_list("pk", flat=True))
    start = threading.Barrier(2)
    got: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def claimer(owner: str) -> None:
        try:
            start.wait(timeout=30)
            while rows := durable.claim(Chore, owner=owner, limit=7, lease_seconds=300):
                got[owner].extend(r.pk for r in rows)
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(owner,)) for owner in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a claimer hung"
    assert errors == []

    a, b = set(got["a"]), set(got["b"])
    assert len(a) == len(got["a"]) and len(b) == len(got["b"]), "a claimer got the same row twice"
    assert a.isdisjoint(b)
    assert a | b == all_ids
    # The database agrees with what each claimer was told.
    assert set(Chore.objects.filter(lease_owner="a").values_list("pk", flat=True)) == a
    assert set(Chore.objects.filter(lease_owner="b").values_list("pk", flat=True)) == b
    assert set(Chore.objects.values_list("attempts", flat=True)) == {1}


def test_expired_lease_is_reclaimed_and_counts_an_attempt(org):
    make_chore(org)
    [first] = claim(owner="w1")
    expire_leases(first)

    [second] = claim(owner="w2")

    assert second.pk == first.pk
    assert second.lease_owner == "w2"
    assert second.attempts == 2
    # The worker that lost its lease can neither complete nor fail the row...
    assert durable.complete(first, "w1") is False
    assert durable.fail(first, "w1", RuntimeError("late")) == S.RUNNING
    second.refresh_from_db()
    assert (second.status, second.lease_owner, second.last_error) == (S.RUNNING, "w2", "")
    # ...the one holding it can.
    assert durable.complete(second, "w2") is True
    second.refresh_from_db()
    assert second.status == S.DONE
    assert second.lease_until is None
    assert second.finished_at is not None


# -- settling -------------------------------------------------------------------------------------------------
def run_next(owner="w1"):
    [row] = claim(owner=owner)
    return row, durable.run_row(row, owner)


def test_success_writes_the_effect_once_and_completes(org):
    chore = make_chore(org)
    row, status = run_next()
    assert status == S.DONE
    chore.refresh_from_db()
    assert (chore.status, chore.attempts, chore.last_error) == (S.DONE, 1, "")
    assert chore.finished_at is not None
    assert list(Effect.objects.values_list("key", "by")) == [(chore.idempotency_key, "w1")]


def test_transient_failure_is_retried_with_backoff_then_done(org, monkeypatch):
    monkeypatch.setattr(Chore, "retry_base_seconds", 10)
    chore = make_chore(org, fail_times=2)

    for attempt, backoff in [(1, 10), (2, 20)]:
        before = timezone.now()
        _, status = run_next()
        after = timezone.now()
        assert status == S.PENDING
        chore.refresh_from_db()
        assert chore.status == S.PENDING
        assert chore.attempts == attempt
        assert chore.last_error == f"RuntimeError: transient failure on attempt {attempt}"
        assert chore.lease_until is None
        assert before + timedelta(seconds=backoff) <= chore.due_at <= after + timedelta(seconds=backoff)
        assert claim() == [], "a row waiting out its backoff is not due"
        assert not Effect.objects.exists()
        make_due(chore)

    _, status = run_next()
    assert status == S.DONE
    chore.refresh_from_db()
    assert (chore.status, chore.attempts, chore.last_error) == (S.DONE, 3, "")
    assert Effect.objects.count() == 1


def test_backoff_is_capped(org, monkeypatch):
    monkeypatch.setattr(Chore, "retry_base_seconds", 10)
    monkeypatch.setattr(Chore, "retry_max_seconds", 15)
    chore = make_chore(org, fail_times=5, attempts=3)
    before = timezone.now()
    run_next()
    chore.refresh_from_db()
    assert chore.attempts == 4
    assert before + timedelta(seconds=15) <= chore.due_at <= timezone.now() + timedelta(seconds=15)


def test_permanent_failure_fails_at_once(org):
    chore = make_chore(org, permanent=True)
    _, status = run_next()
    assert status == S.FAILED
    chore.refresh_from_db()
    assert (chore.status, chore.attempts) == (S.FAILED, 1)
    assert chore.last_error == "PermanentFailure: refused"
    assert chore.finished_at is not None
    assert chore.lease_until is None
    assert claim() == []
    assert not Effect.objects.exists()


def test_exhausting_max_attempts_fails_the_row(org):
    chore = make_chore(org, fail_times=10, max_attempts=3)
    statuses = []
    for _ in range(3):
        make_due(chore)
        statuses.append(run_next()[1])
    assert statuses == [S.PENDING, S.PENDING, S.FAILED]
    chore.refresh_from_db()
    assert (chore.status, chore.attempts) == (S.FAILED, 3)
    assert chore.last_error == "RuntimeError: transient failure on attempt 3"
    make_due(chore)
    assert claim() == []


def test_retry_later_does_not_count_as_an_attempt(org, monkeypatch):
    def busy(self):
        raise RetryLater(30, "remote side busy")

    monkeypatch.setattr(Chore, "perform", busy)
    # A chore that sleeps is performed on its own, through perform(), not in Chore's bulk path.
    chore = make_chore(org, max_attempts=1, sleep_seconds=0.001)
    for _ in range(3):
        make_due(chore)
        before = timezone.now()
        _, status = run_next()
        assert status == S.PENDING
        chore.refresh_from_db()
        assert (chore.status, chore.attempts) == (S.PENDING, 0)
        assert chore.last_error == "RetryLater: remote side busy"
        assert before + timedelta(seconds=30) <= chore.due_at <= timezone.now() + timedelta(seconds=30)

    monkeypatch.undo()
    make_due(chore)
    assert run_next()[1] == S.DONE


def test_cancel_only_while_pending(org):
    pending = make_chore(org)
    assert durable.cancel(pending) is True
    pending.refresh_from_db()
    assert pending.status == S.CANCELLED
    assert pending.finished_at is not None
    assert durable.cancel(pending) is False
    assert claim() == []

    running = make_chore(org)
    [claimed] = claim()
    assert durable.cancel(running) is False
    running.refresh_from_db()
    assert running.status == S.RUNNING
    durable.run_row(claimed, "w1")
    assert durable.cancel(running) is False
    running.refresh_from_db()
    assert running.status == S.DONE


def test_row_whose_leases_keep_expiring_is_failed_not_redriven_forever(org):
    chore = make_chore(org, max_attempts=2)
    for _ in range(2):
        claim(owner="doomed")  # the worker dies mid-row each time
        expire_leases(chore)

    [row] = claim(owner="w3")
    assert row.attempts == 3
    assert durable.run_row(row, "w3") == S.FAILED

    chore.refresh_from_db()
    assert chore.status == S.FAILED
    assert "PermanentFailure" in chore.last_error and "leases expired" in chore.last_error
    assert not Effect.objects.exists(), "the row was given up without being performed again"
    expire_leases(chore)
    assert claim() == []


# -- idempotency ----------------------------------------------------------------------------------------------
def test_idempotency_key_is_unique_per_org(org):
    make_chore(org, idempotency_key="welcome:42")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_chore(org, idempotency_key="welcome:42", fail_times=3)
    assert Chore.objects.filter(org=org).count() == 1
    assert Chore.objects.get(org=org).fail_times == 0

    other = make_org()
    make_chore(other, idempotency_key="welcome:42")
    assert Chore.objects.filter(idempotency_key="welcome:42").count() == 2


# -- the dispatcher pass --------------------------------------------------------------------------------------
def test_dispatch_once_performs_due_rows(org):
    chores = [make_chore(org) for _ in range(5)]
    later = make_chore(org, due_at=timezone.now() + timedelta(hours=1))
    assert dispatch_once(owner="d1", limit=2) == 2
    assert dispatch_once(owner="d1", limit=10) == 3
    assert dispatch_once(owner="d1") == 0
    assert set(Chore.objects.filter(status=S.DONE).values_list("pk", flat=True)) == {c.pk for c in chores}
    later.refresh_from_db()
    assert later.status == S.PENDING
    assert set(Effect.objects.values_list("by", flat=True)) == {"d1"}


@pytest.mark.django_db(transaction=True)
def test_dispatch_once_with_a_thread_pool():
    from concurrent.futures import ThreadPoolExecutor

    org = make_org()
    Chore.objects.bulk_create(Chore(org=org, idempotency_key=f"p{i}", fail_times=i % 2) for i in range(40))
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert dispatch_once(owner="d1", limit=100, pool=pool) == 40
        # The odd ones failed once with no backoff (Chore.retry_base_seconds = 0) and are due again.
        assert dispatch_once(owner="d1", limit=100, pool=pool) == 20
        assert dispatch_once(owner="d1", limit=100, pool=pool) == 0
    assert Chore.objects.filter(status=S.DONE).count() == 40
    assert Effect.objects.count() == 40


# -- deadline lane --------------------------------------------------------------------------------------------
def make_urgent(org, seconds_ago: float, **fields) -> UrgentChore:
    fields.setdefault("idempotency_key", f"urgent-{next(_keys)}")
    return UrgentChore.objects.create(org=org, due_at=timezone.now() - timedelta(seconds=seconds_ago), **fields)


def test_deadline_rows_past_their_deadline_are_expired_not_performed(org):
    late = [make_urgent(org, seconds_ago=UrgentChore.deadline_seconds + 5) for _ in range(3)]
    on_time = make_urgent(org, seconds_ago=UrgentChore.deadline_seconds - 5)

    assert dispatch_once(owner="d1") == 1

    on_time.refresh_from_db()
    assert on_time.status == S.DONE
    for row in late:
        row.refresh_from_db()
        assert (row.status, row.attempts) == (S.EXPIRED, 0)
        assert row.finished_at is not None
        assert "not started within 20s" in row.last_error
    assert list(Effect.objects.values_list("key", flat=True)) == [on_time.idempotency_key]


def test_deadline_row_whose_worker_died_past_its_deadline_is_expired(org):
    row = make_urgent(org, seconds_ago=UrgentChore.deadline_seconds + 5, status=S.RUNNING, attempts=1,
                      lease_owner="dead", lease_until=timezone.now() - timedelta(seconds=1))
    assert dispatch_once(owner="d1") == 0
    row.refresh_from_db()
    assert row.status == S.EXPIRED
    assert not Effect.objects.exists()


def test_a_deadline_backlog_is_served_newest_first(org):
    rows = [make_urgent(org, seconds_ago=s) for s in (9, 1, 5, 3, 7)]
    first = durable.claim(UrgentChore, owner="w1", limit=2, lease_seconds=60)
    second = durable.claim(UrgentChore, owner="w1", limit=2, lease_seconds=60)
    by_age = {s: r.pk for s, r in zip((9, 1, 5, 3, 7), rows)}
    assert [r.pk for r in first] == [by_age[1], by_age[3]]
    assert [r.pk for r in second] == [by_age[5], by_age[7]]


def test_the_deadline_lane_is_served_first(org):
    # Chores older than the urgent rows would come first by due time; the lane puts the urgent ones first.
    chores = [make_chore(org, due_at=timezone.now() - timedelta(hours=1)) for _ in range(3)]
    urgent = [make_urgent(org, seconds_ago=1) for _ in range(3)]
    dispatch_once(owner="d1")
    order = list(Effect.objects.order_by("pk").values_list("key", flat=True))
    assert set(order[:3]) == {r.idempotency_key for r in urgent}
    assert order[3:] == [c.idempotency_key for c in chores]


def test_the_deadline_lane_is_served_between_chunks_of_slower_rows(org, monkeypatch):
    from siyu.core import dispatch

    monkeypatch.setattr(dispatch, "CHUNK", 2)
    for _ in range(4):
        make_chore(org, sleep_seconds=0.001)  # performed one by one, through perform()
    original = Chore.perform

    def perform(self):
        original(self)
        # An urgent row becomes due while the first chunk of chores is being performed.
        if Effect.objects.count() == 1:
            make_urgent(org, seconds_ago=0, idempotency_key="late-arrival")

    monkeypatch.setattr(Chore, "perform", perform)
    assert dispatch_once(owner="d1") == 5
    keys = list(Effect.objects.order_by("pk").values_list("key", flat=True))
    assert keys.index("late-arrival") == 2, keys


def test_lane_filter_of_dispatch_once(org):
    chore = make_chore(org)
    urgent = make_urgent(org, seconds_ago=1)
    assert dispatch_once(owner="d1", lane0=False) == 1
    assert list(Effect.objects.values_list("key", flat=True)) == [chore.idempotency_key]
    assert dispatch_once(owner="d1", lane0=True) == 1
    assert Effect.objects.filter(key=urgent.idempotency_key).exists()


def _until(predicate, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_the_worker_holds_its_slower_lanes_while_the_deadline_lane_has_work():
    import time

    from siyu.core.dispatch import Dispatcher

    org = make_org()
    for _ in range(3):
        make_chore(org)
    dispatcher = Dispatcher(threads=1)
    slower = threading.Thread(target=dispatcher._loop, args=(False,))
    slower.start()  # urgent_idle starts cleared, as when the deadline lane is in the middle of a burst
    try:
        time.sleep(1.0)
        assert Effect.objects.count() == 0
        dispatcher.urgent_idle.set()
        _until(lambda: Effect.objects.count() == 3)
    finally:
        dispatcher.stop()
        slower.join()


@pytest.mark.django_db(transaction=True)
def test_the_deadline_lane_says_when_it_has_nothing_left():
    from siyu.core.dispatch import Dispatcher

    org = make_org()
    urgent = make_urgent(org, seconds_ago=1)
    dispatcher = Dispatcher(threads=1)
    lane0 = threading.Thread(target=dispatcher._loop, args=(True,))
    lane0.start()
    try:
        _until(dispatcher.urgent_idle.is_set)
        assert Effect.objects.filter(key=urgent.idempotency_key).exists()
    finally:
        dispatcher.stop()
        lane0.join()
