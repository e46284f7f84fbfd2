"""The ``clock`` fixture's handle: moves :mod:`siyu.core.clock` (and attached simulators) without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from siyu.core import clock as core_clock


class TestClock:
    __test__ = False  # a helper, not a test class

    def __init__(self) -> None:
        self._followers: list = []

    def now(self) -> datetime:
        return core_clock.now()

    def attach(self, simulated) -> None:
        """Move ``simulated`` (a WeCom ``Simulator`` or ``SimClock``: anything with ``advance(seconds)``) along
        with Siyu's clock, so both sides of a test agree on the date."""
        self._followers.append(simulated)

    def advance(self, **delta) -> datetime:
        """``advance(days=2, hours=3)``: the keywords of :class:`datetime.timedelta`."""
        step = timedelta(**delta)
        moved = core_clock.advance(step)
        for follower in self._followers:
            follower.advance(step.total_seconds())
        return moved

    def set(self, when: datetime) -> datetime:
        """Move forward to ``when`` (aware); attached simulators move by the same amount."""
        return self.advance(seconds=(when - core_clock.now()).total_seconds())
