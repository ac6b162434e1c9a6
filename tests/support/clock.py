"""A clock tests move forward instead of sleeping: the wall clock plus an offset that only grows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class MovableClock:
    """Satisfies ``idp.clock.Clock``. Time keeps flowing, so timestamps of successive requests still differ;
    ``advance`` jumps ahead and never back (keys, sessions and codes made earlier stay consistent)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
