"""A bounded map of verified tokens to their claims, each entry kept until a deadline."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

V = TypeVar("V")


class TokenCache(Generic[V]):
    """At most ``size`` entries; when full, the oldest entries go first. Reads take no lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, now: float) -> V | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= now:
            self._entries.pop(token, None)
            return None
        return entry[1]

    def put(self, token: str, value: V, until: float) -> None:
        if self.size <= 0:
            return
        with self._lock:
            while len(self._entries) >= self.size:
                try:
                    del self._entries[next(iter(self._entries))]
                except (StopIteration, KeyError, RuntimeError):
                    break
            self._entries[token] = (until, value)

    def __len__(self) -> int:
        return len(self._entries)
