"""Limits on mail-sending requests per client address (sign-ups, password reset requests): a sliding window kept in the
process's memory (each worker process counts its own; a restart forgets), enough to keep one address from
mailing strangers in bulk."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta


class AddressLimit:
    """At most ``limit`` attempts per client address in ``window`` (per process)."""

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=10), max_addresses: int = 10000) -> None:
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str, now: datetime) -> bool:
        with self._lock:
            if len(self._seen) >= self.max_addresses:
                self._seen = {a: q for a, q in self._seen.items() if q and q[-1] > now - self.window}
            attempts = self._seen.setdefault(address, deque())
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return False
            attempts.append(now)
            return True
