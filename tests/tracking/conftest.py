from contextlib import contextmanager

import pytest

from tests.factories import drain
from tests.lifecycle.conftest import Corp


@pytest.fixture
def corp(world, settings):
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    corp = Corp(world.org)
    yield corp
    corp.stop()
    corp.sim.close()


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """``with commit(): …`` runs what the block queued for after commit, then the dispatcher until nothing is due."""

    @contextmanager
    def committed():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        drain()

    return committed
