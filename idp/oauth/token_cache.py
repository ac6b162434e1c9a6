"""Access tokens found usable, remembered per process for a few seconds.

A resource server sends the same access token with many requests (the event ingest API sees one per batch).
Checking it costs a signature verification and up to three queries (revoked ``jti``, the grant, the user);
remembering the answer for ``ttl`` seconds (``CANARY_CACHE_SECONDS``) makes a repeated token a dictionary
look-up. Only successes are remembered, never beyond the token's own ``exp``.

Revocation stays immediate in this process: revoking a token, a grant or an account's grants clears the cache
(at once and again at commit, ``idp.oauth.invalidation``). Another process (a second worker) stops accepting a
revoked token within ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from idp.oauth.invalidation import forget_on_commit


class VerifiedTokens:
    def __init__(self, ttl: float, max_entries: int = 20_000, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._wall = wall
        self._entries: OrderedDict[str, tuple[float, int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        _CACHES.add(self)

    def generation(self) -> int:
        """Taken before a check; ``put`` ignores the result if a revocation happened since."""
        return self._generation

    def get(self, token: str) -> dict[str, Any] | None:
        found = self._entries.get(token)
        if found is None:
            return None
        until, exp, claims = found
        if until <= self._clock() or exp <= self._wall():
            with self._lock:
                self._entries.pop(token, None)
            return None
        return dict(claims)

    def put(self, token: str, claims: dict[str, Any], generation: int) -> None:
        exp = claims.get("exp")
        if self.ttl <= 0 or not isinstance(exp, int):
            return
        with self._lock:
            if generation != self._generation:
                return
            self._entries[token] = (self._clock() + self.ttl, exp, dict(claims))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakSet[VerifiedTokens] = weakref.WeakSet()


def forget_verified_tokens(db: Session) -> None:
    """A revocation in ``db``'s transaction: no cache of this process may vouch for any token any more."""

    def forget() -> None:
        for cache in list(_CACHES):
            cache.clear()

    forget_on_commit(db, forget)
