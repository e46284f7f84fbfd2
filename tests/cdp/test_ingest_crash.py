"""Crashes: ``kill -9`` of the web server right after a 200 loses nothing it acknowledged, and ``kill -9`` of the
worker in the middle of normalizing leaves every event exactly once. Real ``siyu web`` / ``siyu worker``
processes on a fresh data directory (SQLite), driven over HTTP."""

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.test_commands import _kill_with_children, free_port


def _siyu(env, *args) -> str:
    done = subprocess.run([sys.executable, "-m", "siyu", *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


STORED_IDS = (
    "import json; from siyu.cdp.models import RawBatch; "
    "print(json.dumps([m['messageId'] for r in RawBatch.objects.all() for m in json.loads(r.body)]))"
)
# The rows' statuses and the events in one read transaction (one snapshot): read one after the other, a batch
# committed in between would show as done with its events missing.
EVENTS = (
    "import json; from django.db import transaction; from django.db.models import Count; "
    "from siyu.cdp.models import Event, RawBatch\n"
    "with transaction.atomic():\n"
    "    rows = list(RawBatch.objects.values_list('status', flat=True))\n"
    "    ids = list(Event.objects.values('message_id').annotate(n=Count('id')).values_list('message_id', 'n'))\n"
    "print(json.dumps({'ids': ids, 'rows': rows}))"
)


@pytest.fixture
def site(tmp_path):
    """A migrated data dir with an organization and a source; yields (env, write key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))}
    env["SIYU_DATA_DIR"] = str(tmp_path / "var")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p.endswith("src")) or env.get("PYTHONPATH", "")
    _siyu(env, "createadmin", "--username", "boss", "--password", "a long enough secret", "--org", "acme")
    key = _siyu(env, "cdp", "source", "create", "--org", "acme", "--name", "App", "--kind", "app").splitlines()[-1]
    return env, key


def _start(env, *args, log):
    return subprocess.Popen([sys.executable, "-m", "siyu", *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_up(port, proc):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login/", timeout=1)
            return
        except httpx.TransportError:
            assert proc.poll() is None
            time.sleep(0.2)
    pytest.fail("siyu web did not start")


def _events_when(env, condition, *, seconds: float) -> dict:
    """The stored events' counts by message id and the raw rows' statuses, once ``condition`` holds (or time is up)."""
    deadline = time.monotonic() + seconds
    while True:
        counted = json.loads(_siyu(env, "shell", "-c", EVENTS).splitlines()[-1])
        if condition(counted) or time.monotonic() > deadline:
            return counted
        time.sleep(0.2)


def _batch(prefix, n):
    return {"batch": [{"type": "track", "event": "Tap", "userId": f"u-{i % 7}", "messageId": f"{prefix}-{i}"}
                      for i in range(n)]}


def test_kill_9_of_the_web_server_right_after_a_200_loses_nothing(site, tmp_path):
    env, key = site
    port = free_port()
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    with open(tmp_path / "web.log", "wb") as log:
        web = _start(env, "web", "--port", str(port), "--threads", "4", log=log)
    acknowledged: list[str] = []
    killed = threading.Event()
    lock = threading.Lock()

    def send(worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": auth}, timeout=5) as client:
            for n in range(1000):
                payload = _batch(f"w{worker}-b{n}", 20)
                try:
                    response = client.post("/v1/batch", json=payload)
                except httpx.TransportError:
                    return  # the server is gone
                assert response.status_code == 200, response.text
                with lock:
                    acknowledged.extend(m["messageId"] for m in payload["batch"])
                    if len(acknowledged) >= 2000 and not killed.is_set():
                        # The moment a 200 is in hand, with other requests in flight: no goodbye for the server.
                        os.killpg(web.pid, signal.SIGKILL)
                        killed.set()

    try:
        _wait_up(port, web)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert killed.is_set()
        web.wait(timeout=10)
    finally:
        _kill_with_children(web.pid)
    stored = json.loads(_siyu(env, "shell", "-c", STORED_IDS).splitlines()[-1])
    assert len(acknowledged) >= 2000
    assert not set(acknowledged) - set(stored), "an acknowledged event was lost"


def test_kill_9_of_the_worker_mid_normalization_leaves_every_event_exactly_once(site, tmp_path):
    env, key = site
    port = free_port()
    with open(tmp_path / "web.log", "wb") as log:
        web = _start(env, "web", "--port", str(port), log=log)
    expected = set()
    try:
        _wait_up(port, web)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=(key, ""), timeout=10) as client:
            for n in range(150):
                payload = _batch(f"b{n}", 100)
                assert client.post("/v1/batch", json=payload).status_code == 200
                expected.update(m["messageId"] for m in payload["batch"])
    finally:
        _kill_with_children(web.pid)
    # A short lease so the restarted worker takes over the killed one's rows within the test.
    env = {**env, "SIYU_DISPATCH_LEASE_SECONDS": "3", "SIYU_DISPATCH_IDLE_SLEEP": "0.1"}
    with open(tmp_path / "worker.log", "wb") as log:
        worker = _start(env, "worker", log=log)
    try:
        counted = _events_when(env, lambda counted: counted["ids"], seconds=120)
        done_before_kill = sum(n for _id, n in counted["ids"])
        assert 0 < done_before_kill < len(expected), "the kill must land in the middle of the work"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        _kill_with_children(worker.pid)
    with open(tmp_path / "worker2.log", "wb") as log:
        worker = _start(env, "worker", log=log)
    try:
        counted = _events_when(env, lambda counted: set(counted["rows"]) == {"done"}, seconds=180)
    finally:
        _kill_with_children(worker.pid)
    assert set(counted["rows"]) == {"done"}, counted["rows"]
    counts = dict(counted["ids"])
    assert set(counts) == expected
    assert set(counts.values()) == {1}
