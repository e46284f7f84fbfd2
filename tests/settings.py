"""Test settings: the real settings, a throwaway data dir, and the database chosen by the environment.

SIYU_TEST_DATABASE_URL=postgres://… runs the suite on PostgreSQL; otherwise SQLite in a file (not in memory,
so that worker subprocesses and threads started by tests share it). Child processes started by tests set
SIYU_TEST_CHILD_DB to the test database's name and use it directly.
"""

import os
import tempfile

os.environ.setdefault("SIYU_DATA_DIR", tempfile.mkdtemp(prefix="siyu-test-"))
_test_url = os.environ.get("SIYU_TEST_DATABASE_URL")
if _test_url:
    os.environ["SIYU_DATABASE_URL"] = _test_url
else:
    os.environ.pop("SIYU_DATABASE_URL", None)
os.environ.pop("SIYU_REDIS_URL", None)

from siyu.settings import *  # noqa: E402,F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.durable_app"]  # noqa: F405

_child_db = os.environ.get("SIYU_TEST_CHILD_DB")
if _child_db:
    DATABASES["default"]["NAME"] = _child_db  # noqa: F405
elif not _test_url:
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405

# Argon2 is what production uses (a test checks it); tests sign many people in, so hash fast here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
HUEY = {**HUEY, "immediate": True}  # noqa: F405
if _child_db:
    # A child process is a real `siyu worker`: huey's consumer refuses immediate mode, so the child gets a
    # real SqliteHuey queue of its own (tasks it runs still use the test database above).
    HUEY = {**HUEY, "immediate": False, "filename": str(DATA_DIR / f"huey-child-{os.getpid()}.sqlite3")}  # noqa: F405
DISPATCH_IDLE_SLEEP = 0.05
# Tests move the simulator's clock days ahead, and its callbacks carry that clock's timestamps; the freshness
# window is tested with its production value in tests/wecom/test_callback_security.py.
WECOM_CALLBACK_WINDOW = 0
# Every WeCom HTTP call made inside a database transaction raises (siyu.wecom.client.CallInsideTransaction).
WECOM_ASSERT_NO_TRANSACTION = True
# Test files are served on loopback (tests/wecom/files.py); the refusal of internal addresses is tested with the
# production value in tests/wecom/test_media.py.
MEDIA_FETCH_INTERNAL = True
