import os
import shutil

import pytest

CHROMIUM = os.environ.get("SIYU_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _default_language():
    """A request with an English cookie leaves English active in the thread; start every test in Chinese."""
    yield
    from django.utils import translation

    translation.activate("zh-hans")


@pytest.fixture(autouse=True)
def _fresh_wecom_memory():
    """Tests reuse organization ids across rolled-back transactions: forget connections kept in memory."""
    yield
    from siyu.wecom import client, receiver

    client._connections.clear()
    client._tokens.clear()
    receiver._cryptors.clear()


@pytest.fixture
def clock():
    """Siyu's schedule clock (``siyu.core.clock``), moved by the test: ``clock.advance(days=3)``; real time after."""
    from siyu.core import clock as core_clock
    from tests.clock import TestClock

    yield TestClock()
    core_clock.reset()


@pytest.fixture
def world(db):
    from tests.factories import World  # imported here so Django-free tests can run with -p no:django

    return World()


# -- browser tests: Debian's Chromium through Playwright (it cannot download its own browser here) ----------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium package; .ci/run does)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


def pytest_collection_modifyitems(config, items):
    # Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there unless told.
    if any(item.get_closest_marker("browser") for item in items):
        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
