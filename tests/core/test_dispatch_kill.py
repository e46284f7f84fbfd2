"""`kill -9` of a real `siyu worker` in the middle of a claimed row, or of a domain-event reaction: after the
lease expires the row (the reaction) is done once.

Each test runs real worker processes against the test database (SIYU_TEST_CHILD_DB), kills the first one with
SIGKILL while it holds the row, and lets a second one take the row over once the lease has expired.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from siyu.core import events
from siyu.core.durable import DurableRow
from siyu.core.events import EventDelivery
from tests.durable_app.models import Chore, Effect
from tests.durable_app.reactions import CHORE_NOTED
from tests.factories import make_org

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3
# Generous bounds: they only matter when something is broken, and then the test fails with the workers' logs.
START_TIMEOUT = 60
TAKEOVER_TIMEOUT = LEASE_SECONDS + 60
S = DurableRow.Status


class Workers:
    """The `siyu worker` processes a test started; all of them are killed when the test ends."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SIYU_TEST_CHILD_DB": str(connection.settings_dict["NAME"]),
            "SIYU_DISPATCH_LEASE_SECONDS": str(LEASE_SECONDS),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
        log = open(self.log_dir / f"worker-{len(self.procs) + 1}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "siyu", "worker", "--threads", "1", "--dispatch-threads", "2"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-4000:]}" for path in sorted(self.log_dir.glob("*.log"))
        )

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
                pass


@pytest.fixture
def workers(tmp_path):
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


def owner_prefix(proc: subprocess.Popen) -> str:
    return f"{socket.gethostname()}:{proc.pid}:"


def wait_for(condition, *, timeout: float, what: str, workers: Workers, alive=()):
    """Poll ``condition`` until it returns something truthy; fail with the workers' logs at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        for proc in alive:
            if proc.poll() is not None:
                pytest.fail(f"worker {proc.pid} exited ({proc.returncode}) while waiting for {what}\n{workers.logs()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{workers.logs()}")
        time.sleep(0.05)


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def fresh(row: DurableRow) -> DurableRow:
    row.refresh_from_db()
    return row


def held_by(chore: DurableRow, proc: subprocess.Popen):
    chore = fresh(chore)
    return chore.status == S.RUNNING and chore.lease_owner.startswith(owner_prefix(proc))


def test_row_killed_before_its_effect_is_done_exactly_once_by_the_next_worker(workers):
    org = make_org()
    # Only the first attempt sleeps, long enough to be killed in the middle of it.
    chore = Chore.objects.create(org=org, idempotency_key="kill-before-effect", sleep_seconds=120, sleep_attempts=1)

    first = workers.start()
    wait_for(lambda: held_by(chore, first), timeout=START_TIMEOUT, what="worker 1 to claim the row",
             workers=workers, alive=[first])
    sigkill(first)

    chore = fresh(chore)
    assert chore.status == S.RUNNING
    assert chore.lease_owner.startswith(owner_prefix(first))
    assert chore.attempts == 1
    assert not Effect.objects.exists()

    second = workers.start()
    wait_for(lambda: fresh(chore).status == S.DONE, timeout=TAKEOVER_TIMEOUT, what="worker 2 to finish the row",
             workers=workers, alive=[second])

    chore = fresh(chore)
    assert chore.attempts == 2
    assert chore.lease_owner.startswith(owner_prefix(second))
    [effect] = Effect.objects.all()
    assert effect.key == "kill-before-effect"
    assert effect.by.startswith(owner_prefix(second))


def test_row_killed_after_its_effect_is_not_repeated_by_the_next_worker(workers):
    org = make_org()
    # The first attempt writes the effect, then sleeps before it can mark the row done.
    chore = Chore.objects.create(org=org, idempotency_key="kill-after-effect", sleep_after_effect=120, sleep_attempts=1)

    first = workers.start()
    wait_for(lambda: Effect.objects.filter(key="kill-after-effect").exists() and held_by(chore, first),
             timeout=START_TIMEOUT, what="worker 1 to write the effect", workers=workers, alive=[first])
    sigkill(first)

    chore = fresh(chore)
    assert chore.status == S.RUNNING
    assert chore.attempts == 1
    [effect] = Effect.objects.all()
    assert effect.by.startswith(owner_prefix(first))

    second = workers.start()
    wait_for(lambda: fresh(chore).status == S.DONE, timeout=TAKEOVER_TIMEOUT, what="worker 2 to finish the row",
             workers=workers, alive=[second])

    chore = fresh(chore)
    assert chore.attempts == 2
    assert chore.lease_owner.startswith(owner_prefix(second))
    [effect] = Effect.objects.all()
    assert effect.by.startswith(owner_prefix(first)), "the re-run reused the effect instead of writing another"


# -- mid-reaction: a domain-event subscriber's delivery ------------------------------------------------------------
def noted(org, key: str, **payload) -> EventDelivery:
    """An event whose subscriber (tests.durable_app.reactions.record_effect) writes the Effect ``key``."""
    subject = Chore.objects.create(org=org, idempotency_key=f"subject-{key}", status=S.DONE)
    event = events.emit(org, CHORE_NOTED, subject, {"key": key, **payload})
    return EventDelivery.objects.get(event=event)


def test_reaction_killed_before_its_effect_is_done_exactly_once_by_the_next_worker(workers):
    org = make_org()
    delivery = noted(org, "react-before", sleep_before=120)

    first = workers.start()
    wait_for(lambda: Effect.objects.filter(key="started:react-before").exists() and held_by(delivery, first),
             timeout=START_TIMEOUT, what="worker 1 to start the reaction", workers=workers, alive=[first])
    sigkill(first)

    delivery = fresh(delivery)
    assert (delivery.status, delivery.attempts) == (S.RUNNING, 1)
    assert not Effect.objects.filter(key="react-before").exists()

    second = workers.start()
    wait_for(lambda: fresh(delivery).status == S.DONE, timeout=TAKEOVER_TIMEOUT, what="worker 2 to finish the reaction",
             workers=workers, alive=[second])

    delivery = fresh(delivery)
    assert delivery.attempts == 2
    [effect] = Effect.objects.filter(key="react-before")
    assert effect.by == owner_prefix(second)


def test_reaction_killed_after_its_effect_is_not_repeated_by_the_next_worker(workers):
    org = make_org()
    delivery = noted(org, "react-after", sleep_after=120)

    first = workers.start()
    wait_for(lambda: Effect.objects.filter(key="react-after").exists() and held_by(delivery, first),
             timeout=START_TIMEOUT, what="worker 1 to write the reaction's effect", workers=workers, alive=[first])
    sigkill(first)

    delivery = fresh(delivery)
    assert (delivery.status, delivery.attempts) == (S.RUNNING, 1)

    second = workers.start()
    wait_for(lambda: fresh(delivery).status == S.DONE, timeout=TAKEOVER_TIMEOUT, what="worker 2 to finish the reaction",
             workers=workers, alive=[second])

    assert fresh(delivery).attempts == 2
    [effect] = Effect.objects.filter(key="react-after")
    assert effect.by == owner_prefix(first), "the re-run reused the effect instead of writing another"
