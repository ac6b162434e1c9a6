"""SQLAlchemy base, engine and session factory for the accounts database (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which forgets the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The wall clock, for record-keeping defaults (``created_at``). Code that decides by the clock takes an
    ``idp.clock.Clock`` (or a ``now``) instead."""
    return datetime.now(UTC)


class DatabaseUnavailable(RuntimeError):
    """The accounts database cannot be reached."""


_WRITE = ("insert", "update", "delete", "replace")
_GATES: dict[str, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


class GatedConnection(sqlite3.Connection):
    """A SQLite connection that holds its database's process-wide write gate from its first write statement
    until its commit or rollback.

    SQLite has one writer at a time; a second writer waits in SQLite's busy handler, which polls with sleeps of
    up to 100 ms. Under concurrent refreshes that turned a 16 ms p99 into seconds. Queueing writers of the same
    process on a lock instead hands the database over the moment the previous writer commits. Writers in other
    processes still meet the busy handler.
    """

    gate: threading.Lock
    holds_gate = False

    def enter_write(self) -> None:
        if not self.holds_gate:
            if not self.gate.acquire(timeout=30):
                raise sqlite3.OperationalError("database is locked (write gate not free within 30 s)")
            self.holds_gate = True

    def leave_write(self) -> None:
        if self.holds_gate:
            self.holds_gate = False
            self.gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_write()


class WouldWait(Exception):
    """A connection that must not wait (``NonWaitingConnection``) met a write lock held by someone else."""


class NonWaitingConnection(GatedConnection):
    """A gated connection for the event loop's thread: it never waits for the write gate (``WouldWait`` when
    another thread holds it), and SQLite's busy timeout is 0 (another process's write lock is "database is
    locked" at once)."""

    def enter_write(self) -> None:
        if not self.holds_gate:
            if not self.gate.acquire(blocking=False):
                raise WouldWait("the write gate is held by another thread")
            self.holds_gate = True


def write_gate(database: str) -> threading.Lock:
    """The process-wide write gate of a SQLite database file (its path as the engine's URL names it)."""
    if database in {"", ":memory:"}:
        return threading.Lock()  # a private database: nobody else to queue with
    with _GATES_LOCK:
        return _GATES.setdefault(os.path.realpath(database), threading.Lock())


SQLITE_LOWER = "unicode_lower"
"""The name under which SQLite connections get ``unicode_lower``: SQLite's own lower() changes ASCII letters only."""


def unicode_lower(value: object) -> object:
    """Python's ``str.lower``, as PostgreSQL's lower() lowers every letter ("ÉLODIE" -> "élodie"); other values
    (NULL) as they are."""
    return value.lower() if isinstance(value, str) else value


class UnicodeLower(FunctionElement[str]):
    """A text in lower case, every letter (as Python's ``str.lower``), not ASCII ones only: PostgreSQL's lower()
    does so; SQLite's does not, and uses the function registered on each connection (``SQLITE_LOWER``) instead."""

    type = String()
    inherit_cache = True


@compiles(UnicodeLower)
def _lower(element: UnicodeLower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(UnicodeLower, "sqlite")
def _lower_on_sqlite(element: UnicodeLower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def make_engine(url: str, *, wait: bool = True) -> Engine:
    """``wait=False`` (SQLite only): connections for the event loop's thread, which never wait for a write lock
    (``NonWaitingConnection``)."""
    if url.startswith("sqlite"):
        busy_ms = 30000 if wait else 0
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_ms / 1000,
                                                  "factory": GatedConnection if wait else NonWaitingConnection},
                               pool_size=20 if wait else 2)
        gate = write_gate(engine.url.database or "")

        @event.listens_for(engine, "before_cursor_execute")
        def _enter_write(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip()[:7].lower().startswith(_WRITE):
                conn.connection.dbapi_connection.enter_write()

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.gate = gate
            dbapi_conn.create_function(SQLITE_LOWER, 1, unicode_lower, deterministic=True)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        return engine
    if not wait:
        raise ValueError("only SQLite connections can be made not to wait")
    engine = create_engine(
        url, pool_size=20, max_overflow=20, pool_timeout=10,
        connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {},
    )
    ping_when_idle(engine, ALIVE_BYPASS_SECONDS)
    return engine


# A pooled connection used this recently is handed out without a ping (HikariCP's "alive bypass window" is the
# same rule, at 500 ms): under load every checkout would otherwise cost a round trip of its own, one of a
# refresh's three. A connection that has sat idle longer, when a server restart or an idle timeout may have
# closed it, is pinged first and replaced if dead.
ALIVE_BYPASS_SECONDS = 0.5


def ping_when_idle(engine: Engine, bypass: float, clock: Callable[[], float] = time.monotonic) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for connections idle in the pool for ``bypass`` seconds or more."""

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = clock()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = clock()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if clock() - record.info.get("returned_at", 0.0) < bypass:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure of the ping: the pool replaces the connection and tries again
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection is dead")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
