"""Sliding-window limits on attempts (sign-in by address and by account, client authentication, and the requests
that send mail to a typed address: sign-ups and password resets, by address), kept in SQL.

Each key (``signin-address:203.0.113.7``, ``signin-account:ada@example.com``, ``client-address:…``,
``client:<client_id>``, ``signup-address:…``, ``reset-address:…``) has a counter per fixed window of ``window``
seconds in ``throttle_counts``. An attempt is allowed while the sliding estimate — the current window's count plus
the previous window's, weighted by how much of it the sliding window still covers — stays under the limit (the
approximation Cloudflare and nginx describe). Taking an attempt is one conditional ``UPDATE … RETURNING`` on the
counter row, so concurrent requests, on any worker or node, never take more than the limit between them. A limit of
0 turns a key off.

``reserve`` takes an attempt before the work it guards (a password check); ``release`` gives it back when the
attempt turns out not to count (a right password). ``record_failure`` serves failures only known after the fact
(client authentication): it counts one, says whether it was beyond the limit, and lets this process refuse the
key without a database read until it allows again (``refusing``). Counters older than two windows are pruned.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.accounts.models import ThrottleCount

_table = cast(Table, ThrottleCount.__table__)
_c = _table.c


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` attempts per key per ``window`` seconds (0 = no limit)."""

    name: str  # what the key counts: signin-address, signin-account, client-address, client
    limit: int
    window: int

    def key(self, value: str) -> str:
        return f"{self.name}:{value}"[:200]


class Throttled(Exception):
    """Over a limit: ``limit`` names the one that refused, ``retry_after`` whole seconds until it allows again."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(f"too many attempts ({limit}); retry after {retry_after} s")
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reservation:
    """Attempts taken by ``Throttle.reserve``, to give back with ``Throttle.release``."""

    taken: tuple[tuple[str, int], ...]  # (key, window start)


def _estimate(previous: int, current: int, elapsed: float, window: int) -> float:
    return previous * (1 - elapsed / window) + current


def retry_after(previous: int, current: int, elapsed: float, limit: int, window: int) -> int:
    """Whole seconds (at least 1) until the sliding estimate lets one more attempt in."""
    if current < limit and previous > 0:
        # Still in this window: the previous window's weight must fall below what is left.
        wait = window * (1 - (limit - current) / previous) - elapsed
    else:
        # The next window: this one's count weighs on it until enough has slid out.
        wait = window - elapsed + max(0.0, window * (1 - limit / current)) if current else 0.0
    return max(1, math.ceil(wait))


@dataclass(frozen=True)
class Limits:
    """The limits Canary applies (``CANARY_SIGNIN_*_LIMIT``, ``CANARY_CLIENT_AUTH_LIMIT``,
    ``CANARY_THROTTLE_WINDOW``). Sign-ups and password reset requests, which each mail an address someone typed,
    are held to 5 per client address in 10 minutes: enough for a person, too few to mail strangers in bulk."""

    signin_address: Limit = Limit("signin-address", 20, 300)
    signin_account: Limit = Limit("signin-account", 10, 300)
    client_address: Limit = Limit("client-address", 20, 300)
    client: Limit = Limit("client", 20, 300)
    signup_address: Limit = Limit("signup-address", 5, 600)
    reset_address: Limit = Limit("reset-address", 5, 600)

    @classmethod
    def of(cls, *, signin_address: int, signin_account: int, client_auth: int, window: int) -> Limits:
        return cls(Limit("signin-address", signin_address, window), Limit("signin-account", signin_account, window),
                   Limit("client-address", client_auth, window), Limit("client", client_auth, window))

    def signin(self, address: str, email: str) -> list[tuple[Limit, str]]:
        return [(self.signin_address, address), (self.signin_account, email.strip().lower())]

    def client_auth(self, address: str, client_id: str) -> list[tuple[Limit, str]]:
        return [(self.client_address, address)] + ([(self.client, client_id)] if client_id else [])

    def signup(self, address: str) -> list[tuple[Limit, str]]:
        return [(self.signup_address, address)]

    def reset(self, address: str) -> list[tuple[Limit, str]]:
        return [(self.reset_address, address)]

    @property
    def all(self) -> tuple[Limit, ...]:
        return (self.signin_address, self.signin_account, self.client_address, self.client, self.signup_address,
                self.reset_address)


class Throttle:
    """The limits' counters in the accounts database. ``clock`` gives Unix seconds (the application's clock)."""

    PRUNE_EVERY = 60.0  # seconds between deletions of old counters, per process

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self._pruned = 0.0
        self._refused: dict[str, float] = {}  # key → until (this process's memo, see ``refusing``)
        self._lock = threading.Lock()

    # --- taking attempts before the work ---------------------------------------------------------------
    def reserve(self, db: Session, checks: Sequence[tuple[Limit, str]]) -> Reservation:
        """Take one attempt on each (limit, value), committed; Throttled (taking none) when one is over."""
        now = self.clock()
        taken: list[tuple[str, int]] = []
        try:
            for limit, value in checks:
                if limit.limit <= 0:
                    continue
                key, start = limit.key(value), self._window(now, limit)
                self._ensure_row(db, key, start)
                previous = self._count(db, key, start - limit.window)
                elapsed = now - start
                cap = limit.limit - previous * (1 - elapsed / limit.window)
                taken_now = db.execute(
                    update(_table)
                    .where(_c.key == key, _c.window_start == start, _c.count < cap)
                    .values(count=_c.count + 1).returning(_c.count)).scalar()
                if taken_now is None:
                    current = self._count(db, key, start)
                    raise Throttled(limit.name, retry_after(previous, current, elapsed, limit.limit, limit.window))
                taken.append((key, start))
        except Throttled:
            db.rollback()
            raise
        self._maybe_prune(db, now)
        db.commit()
        return Reservation(tuple(taken))

    def refusing(self, checks: Sequence[tuple[Limit, str]]) -> Throttled | None:
        """What this process learnt from ``record_failure``: a key still refused, without asking the database."""
        if not self._refused:  # the common case, on the token endpoint's hot path
            return None
        now = self.clock()
        for limit, value in checks:
            until = self._refused.get(limit.key(value))
            if until is not None and until > now:
                return Throttled(limit.name, max(1, math.ceil(until - now)))
        return None

    def record_failure(self, db: Session, checks: Sequence[tuple[Limit, str]]) -> Throttled | None:
        """Count one failure on each (limit, value), committed. Returns Throttled when this failure was itself
        beyond a limit (the answer should be 429). A key whose allowance is used up is remembered by this
        process until it allows again (``refusing``), so its next attempt here is refused unchecked."""
        self.record(db, checks)
        now = self.clock()
        over: Throttled | None = None
        for limit, value in checks:
            if limit.limit <= 0:
                continue
            key, start = limit.key(value), self._window(now, limit)
            previous, current = self._count(db, key, start - limit.window), self._count(db, key, start)
            elapsed = now - start
            estimate = _estimate(previous, current, elapsed, limit.window)
            if estimate < limit.limit:
                continue
            wait = retry_after(previous, current, elapsed, limit.limit, limit.window)
            with self._lock:
                for stale in [k for k, until in self._refused.items() if until <= now]:
                    del self._refused[stale]
                self._refused[key] = max(self._refused.get(key, 0.0), now + wait)
            if over is None and estimate - 1 >= limit.limit:
                over = Throttled(limit.name, wait)
        return over

    def release(self, db: Session, reservation: Reservation) -> None:
        """Give back what ``reserve`` took (in the caller's transaction)."""
        for key, start in reservation.taken:
            db.execute(update(_table).where(_c.key == key, _c.window_start == start, _c.count > 0)
                       .values(count=_c.count - 1))

    # --- counting failures after the fact --------------------------------------------------------------
    def check(self, db: Session, checks: Sequence[tuple[Limit, str]]) -> None:
        """Throttled when a (limit, value) has no attempt left; takes nothing."""
        now = self.clock()
        for limit, value in checks:
            if limit.limit <= 0:
                continue
            key, start = limit.key(value), self._window(now, limit)
            previous, current = self._count(db, key, start - limit.window), self._count(db, key, start)
            elapsed = now - start
            if _estimate(previous, current, elapsed, limit.window) >= limit.limit:
                raise Throttled(limit.name, retry_after(previous, current, elapsed, limit.limit, limit.window))

    def record(self, db: Session, checks: Sequence[tuple[Limit, str]]) -> None:
        """Count one failure on each (limit, value), committed."""
        now = self.clock()
        for limit, value in checks:
            if limit.limit <= 0:
                continue
            key, start = limit.key(value), self._window(now, limit)
            self._ensure_row(db, key, start)
            db.execute(update(_table).where(_c.key == key, _c.window_start == start)
                       .values(count=_c.count + 1))
        self._maybe_prune(db, now)
        db.commit()

    # --- the table -------------------------------------------------------------------------------------
    @staticmethod
    def _window(now: float, limit: Limit) -> int:
        return int(now // limit.window) * limit.window

    @staticmethod
    def _count(db: Session, key: str, start: int) -> int:
        found = db.scalar(select(_c.count).where(_c.key == key, _c.window_start == start))
        return int(found or 0)

    @staticmethod
    def _ensure_row(db: Session, key: str, start: int) -> None:
        dialect = db.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.execute(insert(_table).values(key=key, window_start=start, count=0)
                   .on_conflict_do_nothing(index_elements=[_c.key, _c.window_start]))

    def _maybe_prune(self, db: Session, now: float) -> None:
        """Delete counters their own limit's window can no longer read, at most once a minute per process."""
        with self._lock:
            if abs(now - self._pruned) < self.PRUNE_EVERY:
                return
            self._pruned = now
        for limit in self.limits.all:
            db.execute(delete(_table).where(_c.key.startswith(f"{limit.name}:"),
                                            _c.window_start < now - 2 * limit.window))
