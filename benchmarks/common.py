"""What every benchmark shares: a throwaway data directory, Django set up on it, and the figure format.

Benchmarks run on ``tests.settings`` (so the test-only ``durable_app`` with its ``Chore`` rows is installed)
in a temporary SIYU_DATA_DIR that is deleted at exit: a fresh SQLite database, migrated at start. They never
touch ``./var`` or a database named by the environment.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_data_dir: Path | None = None


def setup_django() -> Path:
    """Point Django at a fresh data dir, set it up and migrate; idempotent. Returns the data dir."""
    global _data_dir
    if _data_dir is not None:
        return _data_dir
    _data_dir = Path(tempfile.mkdtemp(prefix="siyu-bench-"))
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)
    os.environ["SIYU_DATA_DIR"] = str(_data_dir)
    # The default single-machine setup: SQLite in the data dir, whatever this shell points at.
    for name in ("SIYU_DATABASE_URL", "SIYU_TEST_DATABASE_URL", "SIYU_TEST_CHILD_DB", "SIYU_REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.setdefault("SIYU_LOG_LEVEL", "WARNING")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return _data_dir


def database_description() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version} (WAL, synchronous=NORMAL)"
    if connection.vendor == "postgresql":
        version = connection.cursor().connection.info.server_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    return connection.vendor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def siyu_web(data_dir: Path, *, workers: int, threads: int = 4):
    """A real ``siyu web`` (granian, WSGI) on the data dir, on a free port; yields the port once it answers."""
    import httpx

    port = free_port()
    env = {**os.environ, "SIYU_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "siyu.settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)])),
           "SIYU_LOG_LEVEL": "WARNING"}
    web = subprocess.Popen(
        [sys.executable, "-m", "siyu", "web", "--port", str(port), "--workers", str(workers), "--threads",
         str(threads)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or web.poll() is not None:
                    raise RuntimeError("the web server did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        web.terminate()
        web.wait(timeout=30)


@contextmanager
def stopwatch():
    """``with stopwatch() as elapsed: …`` then ``elapsed()`` is the block's wall time in seconds."""
    start = time.perf_counter()
    end: list[float] = []
    try:
        yield lambda: (end[0] if end else time.perf_counter()) - start
    finally:
        end.append(time.perf_counter())


def figure(name: str, value: float, unit: str, *, limit_value: float | None = None, limit_unit: str | None = None,
           notes: str = "") -> dict:
    """One measured figure beside the physical limit measured in the same run (if there is one)."""
    ratio = round(value / limit_value, 4) if limit_value else None
    return {
        "name": name,
        "value": round(value, 1),
        "unit": unit,
        "limit_value": round(limit_value, 1) if limit_value is not None else None,
        "limit_unit": limit_unit if limit_value is not None else None,
        "ratio": ratio,
        "notes": notes,
    }


def skipped(name: str, unit: str, *, reason: str) -> dict:
    """A figure this run could not measure: its value is absent, never 0, so no one reads it as a result."""
    return {"name": name, "value": None, "unit": unit, "limit_value": None, "limit_unit": None, "ratio": None,
            "notes": f"skipped: {reason}"}


def keeping() -> bool:
    """Whether generated data is kept for the next run (``--keep``, ``make bench KEEP=1``, ``SIYU_BENCH_KEEP=1``)."""
    return os.environ.get("SIYU_BENCH_KEEP", "") not in ("", "0")


KEPT_TABLE = "bench_kept"


def kept_facts(key: str) -> dict | None:
    """The facts a benchmark recorded with :func:`mark_kept` in the current database for ``key``, or None when
    it holds no complete data of that key."""
    import json

    from django.db import connection

    if KEPT_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT facts FROM {KEPT_TABLE} WHERE key = %s", [key])
        row = cursor.fetchone()
    return json.loads(row[0]) if row else None


def mark_kept(key: str, facts: dict) -> None:
    """Record, after the data of ``key`` is generated and committed, what a later run needs to use it; this row
    is the mark that the data is complete."""
    import json

    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {KEPT_TABLE} (key varchar(200) PRIMARY KEY, facts text NOT NULL)")
        cursor.execute(f"DELETE FROM {KEPT_TABLE} WHERE key = %s", [key])
        cursor.execute(f"INSERT INTO {KEPT_TABLE} (key, facts) VALUES (%s, %s)", [key, json.dumps(facts)])


@contextmanager
def kept_sqlite(key: str):
    """With :func:`keeping`, the SQLite database of ``key`` under ``var/bench/``, migrated: the kept one when it
    exists, else a new one that becomes the kept one once the block has run without error (the block generates
    and calls :func:`mark_kept`). Without it, the throwaway database as before."""
    from django.core.management import call_command
    from django.db import connection

    if not keeping():
        yield
        return
    kept = REPO / "var" / "bench" / f"{key}.sqlite3"
    target = kept if kept.exists() else kept.with_suffix(".partial")
    kept.parent.mkdir(parents=True, exist_ok=True)
    if target != kept:
        for stale in kept.parent.glob(f"{target.name}*"):
            stale.unlink()
    default = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = str(target)
    try:
        call_command("migrate", verbosity=0)
        yield
        connection.close()  # the last connection checkpoints the WAL into the file
        if target != kept:
            target.rename(kept)
    finally:
        connection.close()
        connection.settings_dict["NAME"] = default


def _template_name(key: str) -> str:
    return "siyu_kept_" + "".join(ch if ch.isalnum() else "_" for ch in key.lower())[:50]


def run_on_postgres(url: str, module: str, *, timeout: float, keep_key: str = "") -> dict:
    """Run ``python -m <module>`` on a throwaway PostgreSQL database next to ``url``'s and return the JSON its
    last output line holds; the module's ``child_main`` (see :func:`child_setup`) does the measuring.

    With :func:`keeping` and a ``keep_key``, the throwaway database is a copy of the template database kept for
    that key, when there is one; otherwise, once the child has marked its data complete (:func:`mark_kept`), the
    database becomes that template instead of being dropped."""
    import json

    import psycopg
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = f"siyu_{module.rsplit('.', 1)[-1]}_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    template = _template_name(keep_key) if keep_key and keeping() else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        found = template and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
        if found:
            # FILE_COPY: a checkpoint and a copy of the files, much faster than WAL-logging gigabytes.
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY = FILE_COPY')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {**os.environ, "SIYU_BENCH_CHILD_DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}")),
               "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
        child = subprocess.run([sys.executable, "-m", module], cwd=REPO, env=env, capture_output=True, text=True,
                               timeout=timeout)
        if child.returncode != 0:
            raise RuntimeError(f"PostgreSQL run failed:\n{child.stdout[-3000:]}\n{child.stderr[-5000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        if template and not found:
            with psycopg.connect(urlunsplit(parts._replace(path=f"/{name}"))) as conn:
                complete = conn.execute(f"SELECT 1 FROM {KEPT_TABLE} WHERE key = %s", [keep_key]).fetchone()
            if complete:
                with psycopg.connect(admin_url, autocommit=True) as conn:
                    conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{template}"')
        return result
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child_setup() -> None:
    """In a ``run_on_postgres`` child: Django on the child's database, migrated, with a throwaway data dir."""
    os.environ["SIYU_DATA_DIR"] = tempfile.mkdtemp(prefix="siyu-bench-pg-")
    os.environ["SIYU_TEST_DATABASE_URL"] = os.environ["SIYU_BENCH_CHILD_DATABASE_URL"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.setdefault("SIYU_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
