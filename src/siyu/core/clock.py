"""The one clock every schedule reads: ``clock.now()``.

Whatever decides *when* something happens — a durable row becoming due, a lease running out, a retry's
backoff, a scheduled send, an SOP step, a journey's wait, quiet hours — asks this module for the time instead
of ``django.utils.timezone.now``. Records of when something *did* happen (``created_at``, ``finished_at``)
keep the real time.

In production the clock is real time, always. Tests move it with the ``clock`` fixture of
``tests/conftest.py`` (``clock.advance(days=2)``, ``clock.set(datetime(...))``), so a test of "send again
after two days" runs in milliseconds and never sleeps. The shift is kept in this process's memory: worker
processes a test starts keep real time.

The clock only moves forward, like WeCom's (and the simulator's, :mod:`siyu.wecom.simulator.clock`). Durable
rows created without a ``due_at`` are due at the real time of their creation; a clock set back before it would
hold them as due in the future.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

_lock = threading.Lock()
_shift = timedelta(0)


def now() -> datetime:
    """The current time for schedules: an aware UTC datetime, real time plus the test shift (zero in production)."""
    return datetime.now(timezone.utc) + _shift


def advance(delta: timedelta) -> datetime:
    """Move the clock forward by ``delta``; returns the new time."""
    global _shift
    if delta < timedelta(0):
        raise ValueError("the clock only moves forward")
    with _lock:
        _shift += delta
    return now()


def set_to(when: datetime) -> datetime:
    """Move the clock forward to ``when`` (an aware datetime)."""
    if when.tzinfo is None:
        raise ValueError("give an aware datetime: schedules compare instants, not wall-clock readings")
    return advance(when - now())


def reset() -> None:
    """Back to real time (the test fixture calls this after each test)."""
    global _shift
    with _lock:
        _shift = timedelta(0)


def shift() -> timedelta:
    """How far ahead of real time the clock runs (zero in production)."""
    return _shift
