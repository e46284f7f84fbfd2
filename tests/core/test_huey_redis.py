"""huey on Redis, the production job store: a real consumer runs a real task, and the settings pick Redis.

Needs a Redis server: SIYU_TEST_REDIS_URL=redis://127.0.0.1:6379/15 (a database these tests may flush).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.db import connections
from huey import RedisHuey

from tests.durable_app.models import Effect
from tests.factories import make_org

REDIS_URL = os.environ.get("SIYU_TEST_REDIS_URL", "")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set SIYU_TEST_REDIS_URL=redis://127.0.0.1:6379/15"),
]


@pytest.fixture
def huey():
    # A queue name of its own, so nothing else using this Redis database sees or runs these tasks.
    instance = RedisHuey(name=f"siyu-test-{uuid.uuid4().hex[:8]}", url=REDIS_URL, read_timeout=0.2)
    try:
        yield instance
    finally:
        instance.flush()


@pytest.fixture
def consumer_factory(huey):
    started = []

    def start():
        consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=False, check_worker_health=False,
                                        shutdown_timeout=30)
        # Consumer.start() installs SIGINT/SIGTERM/SIGHUP handlers meant for a consumer process; keep pytest's.
        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            consumer.start()
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        started.append(consumer)
        return consumer

    try:
        yield start
    finally:
        for consumer in started:
            consumer.stop(graceful=True)


@pytest.mark.django_db(transaction=True)
def test_a_real_consumer_on_redis_runs_a_task_that_writes_a_row(huey, consumer_factory):
    org = make_org()

    @huey.task()
    def record_effect(org_id: int, key: str) -> str:
        try:
            Effect.objects.create(org_id=org_id, key=key, by=threading.current_thread().name)
            return key
        finally:
            connections.close_all()  # this consumer thread's own connection

    result = record_effect(org.pk, "redis:1")
    assert huey.pending_count() == 1, "the task waits in Redis until a consumer takes it"
    assert not Effect.objects.exists()

    consumer_factory()
    assert result.get(blocking=True, timeout=30) == "redis:1"

    [effect] = Effect.objects.all()
    assert effect.key == "redis:1"
    assert effect.by != threading.current_thread().name, "the consumer's worker thread ran it"
    assert huey.pending_count() == 0


def settings_report(tmp_path: Path, **env) -> dict:
    """What ``siyu.settings`` configures in a fresh process with the given environment."""
    code = (
        "import json, django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from huey.contrib.djhuey import HUEY\n"
        "report = {'huey': type(HUEY).__name__, 'cache': settings.CACHES['default']['BACKEND']}\n"
        "if type(HUEY).__name__ == 'RedisHuey':\n"
        "    report['ping'] = HUEY.storage.conn.ping()\n"
        "print(json.dumps(report))\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_") and k != "DJANGO_SETTINGS_MODULE"}
    full_env = {**base, "DJANGO_SETTINGS_MODULE": "siyu.settings", "SIYU_DATA_DIR": str(tmp_path), **env}
    proc = subprocess.run([sys.executable, "-c", code], env=full_env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_settings_pick_redis_when_siyu_redis_url_is_set(tmp_path):
    assert settings_report(tmp_path, SIYU_REDIS_URL=REDIS_URL) == {
        "huey": "RedisHuey",
        "cache": "django.core.cache.backends.redis.RedisCache",
        "ping": True,
    }
    assert settings_report(tmp_path) == {
        "huey": "SqliteHuey",
        "cache": "django.core.cache.backends.db.DatabaseCache",
    }
