"""What time it is, as a dependency: the code that decides by the clock (token lifetimes, signing-key
activation, login sessions, max_age, code expiry, lockout) asks a ``Clock`` held by the application
context, so tests move time instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK: Clock = SystemClock()
