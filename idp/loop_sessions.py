"""Short database work run on the event loop's thread, without ever making the loop wait.

A refresh is a look-up, two signatures and a rotation. Handing it to the thread pool and back cost 0.15–0.4 ms of
its ~2 ms of server CPU (thread wake-ups, the GIL passing between the loop and the token threads). Run on the loop
instead, the same synchronous session code must still never block the loop on a wait:

- PostgreSQL: the code runs in a greenlet (SQLAlchemy's ``greenlet_spawn``, the machinery of its asyncio
  extension) over asynchronous psycopg connections: each round trip hands the loop back, as an ``await`` does.
- SQLite, an embedded file with no network: statements run directly on ``NonWaitingConnection``s. The one wait a
  statement could meet, a write lock held by another thread (the process's write gate) or by another process,
  is refused instead: ``WouldWait``, raised before anything was written, and the caller runs the work again in
  the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import greenlet_spawn

from idp.db import ALIVE_BYPASS_SECONDS, WouldWait, make_engine, make_session_factory, ping_when_idle

T = TypeVar("T")
Work = Callable[[sessionmaker[Session]], T]


class LoopSessions(Protocol):
    async def run(self, work: Work[T]) -> T:
        """``work(sessions)`` on the loop's thread; raises ``WouldWait`` when it would have had to wait (nothing
        was committed then)."""

    async def close(self) -> None: ...


class SQLiteOnLoop:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url, wait=False)
        self.sessions = make_session_factory(self.engine)

    async def run(self, work: Work[T]) -> T:
        try:
            return work(self.sessions)
        except OperationalError as exc:  # another process holds the database's write lock (busy timeout 0)
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise WouldWait(str(exc.orig)) from exc
            raise

    async def close(self) -> None:
        self.engine.dispose()


class PostgresOnLoop:
    def __init__(self, url: str) -> None:
        # The pool's limits as idp.db's synchronous engine has them; checking out waits asynchronously.
        self.engine = create_async_engine(make_url(url).set(drivername="postgresql+psycopg_async"),
                                          pool_size=20, max_overflow=20, pool_timeout=10,
                                          connect_args={"connect_timeout": 5})
        ping_when_idle(self.engine.sync_engine, ALIVE_BYPASS_SECONDS)
        self.sessions = make_session_factory(self.engine.sync_engine)

    async def run(self, work: Work[T]) -> T:
        result: T = await greenlet_spawn(work, self.sessions)
        return result

    async def close(self) -> None:
        await self.engine.dispose()


def loop_sessions(url: str) -> LoopSessions | None:
    """Sessions for work on the loop, for the databases where that cannot block it; None for any other."""
    if url.startswith("sqlite"):
        private = make_url(url).database in {None, "", ":memory:"}  # a second engine would see another database
        return None if private else SQLiteOnLoop(url)
    if make_url(url).drivername in {"postgresql+psycopg", "postgresql+psycopg_async"}:
        return PostgresOnLoop(url)
    return None
