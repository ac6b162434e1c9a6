"""Short database work run on the event loop's thread, without ever making the loop wait: SQLite only.

A refresh is a look-up, two signatures and a rotation. Handing it to the thread pool and back cost 0.15-0.4 ms of
its ~2 ms of server CPU (thread wake-ups, the GIL passing between the loop and the token threads). On SQLite, an
embedded file with no network, the same synchronous session code runs on the loop over ``NonWaitingConnection``s:
the one wait a statement could meet, a write lock held by another thread (the process's write gate) or by another
process, is refused instead: ``WouldWait``, raised before anything was written, and the caller runs the work again
in the thread pool. A refresh refused so has done its signatures for nothing, so the loop is not tried while the
gate is held, nor for ``PAUSE_SECONDS`` after another process's lock was met (several workers on one SQLite
file): their refreshes then go to the thread pool, as before.

PostgreSQL's answers come over the network: there the look-up and the rotation are awaited on the loop instead
(``idp.loop_postgres``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from idp.db import WouldWait, make_engine, make_session_factory, write_gate

T = TypeVar("T")
Work = Callable[[sessionmaker[Session]], T]


PAUSE_SECONDS = 5.0


class LoopSessions:
    """Sessions of a SQLite file for work on the loop's thread."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = make_engine(url, wait=False)
        self.sessions = make_session_factory(self.engine)
        self._gate = write_gate(self.engine.url.database or "")
        self._clock = clock
        self._paused_until = 0.0

    def available(self) -> bool:
        """Whether work is worth trying here now: the gate is free and no other process has been met writing
        lately."""
        return not self._gate.locked() and self._clock() >= self._paused_until

    async def run(self, work: Work[T]) -> T:
        """``work(sessions)`` here, on the loop's thread; ``WouldWait`` when it would have had to wait for a write
        lock (nothing was written then)."""
        try:
            return work(self.sessions)
        except OperationalError as exc:  # another process holds the database's write lock (busy timeout 0)
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                self._paused_until = self._clock() + PAUSE_SECONDS
                raise WouldWait(str(exc.orig)) from exc
            raise

    async def close(self) -> None:
        self.engine.dispose()


def loop_sessions(url: str) -> LoopSessions | None:
    """Sessions for work on the loop for a SQLite file; None for PostgreSQL, and for a private in-memory SQLite
    database (a second engine would see another database)."""
    if url.startswith("sqlite") and make_url(url).database not in {None, "", ":memory:"}:
        return LoopSessions(url)
    return None
