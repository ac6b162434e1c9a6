"""What time it is, as a dependency: the code that decides by the clock (token lifetimes, signing-key
activation, login sessions, max_age, code expiry, lockout) asks a ``Clock`` held by the application
context, so tests move time instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def timestamp(self) -> float:
        """The current time in seconds since the epoch, as JWT claims count it."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()


SYSTEM_CLOCK: Clock = SystemClock()
