"""The simulator's controllable clock.

Token expiry, 20-second welcome codes and 24-hour transfers must be testable
without sleeping, so every time check in the simulator reads this clock and
tests move it with :meth:`SimClock.advance`.
"""

from __future__ import annotations

import threading
import time


class SimClock:
    """Real time plus an offset that only grows; or a frozen instant when ``frozen=True``.

    A frozen clock makes tests exact (nothing expires while a test is slow); the
    demo uses the running clock so things also expire on their own.
    """

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen = frozen
        self._base = (time.time() if start is None else float(start)) if frozen else None
        self._offset = 0.0 if frozen or start is None else float(start) - time.time()

    def now(self) -> float:
        with self._lock:
            base = self._base if self._frozen else time.time()
            return base + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward (never back: WeCom's clock does not run backwards)."""
        if seconds < 0:
            raise ValueError("the simulator clock only moves forward")
        with self._lock:
            self._offset += float(seconds)
        return self.now()
