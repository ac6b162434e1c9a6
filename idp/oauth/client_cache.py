"""Clients as the token, introspection and revocation endpoints see them, kept in memory per process.

A token request needs the client's secret digest, grant types, scope and authentication method: reading them
from the database on every request was a sixth of a ``client_credentials`` request's CPU time. Entries are
*copies* of the row (transient ``Client`` objects, bound to no session) and are only read.

Freshness: a change made through this process (admin API, ``idp.oauth.clients``) drops the entry at once and
again after its commit, so this process never serves a stale client afterwards. A change made by another
process (the ``canary clients`` CLI, another uvicorn worker) is seen within ``ttl`` seconds
(``CANARY_CACHE_SECONDS``; 0 turns the cache off). Unknown client ids are not cached.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy.orm import Session

from idp.oauth.invalidation import forget_on_commit
from idp.oauth.models import Client

_COLUMNS = tuple(column.key for column in Client.__table__.columns)


def detached_copy(row: Client) -> Client:
    values = {key: getattr(row, key) for key in _COLUMNS}
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = list(value)
    return Client(**values)


class ClientCache:
    def __init__(self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Client]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every forget: a load that raced with a change is not kept
        _CACHES.add(self)

    def get(self, db: Session, client_id: str) -> Client | None:
        now = self._clock()
        with self._lock:
            found = self._entries.get(client_id)
            if found is not None and found[0] > now:
                self._entries.move_to_end(client_id)
                return found[1]
            generation = self._generation
        row = db.get(Client, client_id)
        if row is None or self.ttl <= 0:
            return row
        copy = detached_copy(row)
        with self._lock:
            if generation == self._generation:
                self._entries[client_id] = (now + self.ttl, copy)
                self._entries.move_to_end(client_id)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return copy

    def peek(self, client_id: str) -> Client | None:
        """The cached client if ``get`` would answer from memory now, else None (no database needed)."""
        found = self._entries.get(client_id)
        return found[1] if found is not None and found[0] > self._clock() else None

    def has(self, client_id: str) -> bool:
        """Whether ``get`` would answer from memory now."""
        return self.peek(client_id) is not None

    def forget(self, client_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(client_id, None)

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakSet[ClientCache] = weakref.WeakSet()


def forget_client(db: Session, client_id: str) -> None:
    """Drop ``client_id`` from every cache in this process now, and again once ``db`` commits."""

    def forget() -> None:
        for cache in list(_CACHES):
            cache.forget(client_id)

    forget_on_commit(db, forget)
