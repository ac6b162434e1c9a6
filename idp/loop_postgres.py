"""A refresh's two PostgreSQL statements, awaited on the event loop: PostgreSQL only.

Handing a refresh to the thread pool and back costs more than its database work: on a 2-vCPU machine a refresh
served from a token thread took ~1.2 ms more server CPU than the same refresh on the loop (thread wake-ups, the
GIL passing between the loop and the token threads). On SQLite the synchronous code runs on the loop
(``idp.loop_sessions``); PostgreSQL answers over the network, so here the look-up and the rotation are awaited
instead, on a few asynchronous psycopg connections of this module's own, and the grant's synchronous part
(Authlib, the two signatures) runs between them without touching a database (``idp.oauth.server``).

The statements stay SQLAlchemy Core constructs, defined once in ``idp.oauth.refresh_tokens``: ``LoopStatement``
compiles one for the PostgreSQL dialect and applies its column types' bind and result processors (the
``UTCDateTime`` decorator's, for one), through SQLAlchemy's public compiler and type APIs. SQLAlchemy's own asyncio
layer was measured and not used: each statement through it cost ~0.25 ms more CPU than through psycopg directly
(it runs every statement in a greenlet), and a checkout from its pool another ~0.2 ms.

Machines differ in what this saves. Where an asynchronous psycopg round trip cost more CPU than a synchronous one
(machine C of docs/performance.md: 227-289 µs against 179) it broke even with the thread pool; where it costs
less (machine A: 53 µs against 63) a PostgreSQL refresh takes about half the server CPU it took through the
thread pool.

Connections run in autocommit, as the synchronous refresh's do: a look-up needs no transaction and the rotation
is one atomic statement. One connection serves one refresh from its look-up to its rotation; one idle for
``ALIVE_BYPASS_SECONDS`` or more is pinged before use, the rule the synchronous pool follows (``idp.db``).
"""

from __future__ import annotations

import asyncio
import time
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any, cast

import psycopg
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from idp.db import ALIVE_BYPASS_SECONDS

POOL_SIZE = 8
CONNECT_TIMEOUT_SECONDS = 5


class Unavailable(Exception):
    """No connection could be had or kept: the caller does the work in the thread pool instead. Nothing was
    written."""


class LoopStatement:
    """A Core statement compiled once for psycopg: its SQL text, what each parameter's type does to a value on
    the way in, and what each result column's type does on the way out."""

    def __init__(self, statement: ClauseElement, dialect: PGDialect_psycopg) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self._compiled = compiled
        self.sql: str = compiled.string
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for key, bind in compiled.binds.items():
            processor = bind.type.bind_processor(dialect)
            if processor is not None:
                self._binds[key] = processor
        columns = list(getattr(statement, "selected_columns", ()))
        self._results: list[Callable[[Any], Any] | None] = [c.type.result_processor(dialect, None) for c in columns]
        self.row = namedtuple("Row", [c.key for c in columns]) if columns else None  # type: ignore[misc]

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        parameters = dict(self._compiled.construct_params(dict(values)))
        for key, processor in self._binds.items():
            if key in parameters:
                parameters[key] = processor(parameters[key])
        return parameters

    def result(self, values: tuple[Any, ...]) -> Any:
        assert self.row is not None
        return self.row(*(v if p is None else p(v) for p, v in zip(self._results, values, strict=True)))


class LoopConnection:
    """One checked-out connection: ``first`` and ``rowcount`` run a ``LoopStatement``."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.connection = connection
        self.used_at = 0.0

    async def first(self, statement: LoopStatement, values: Mapping[str, Any]) -> Any | None:
        cursor = await self._execute(statement, values)
        found = await cursor.fetchone()
        return None if found is None else statement.result(found)

    async def rowcount(self, statement: LoopStatement, values: Mapping[str, Any]) -> int:
        cursor = await self._execute(statement, values)
        return cursor.rowcount

    async def _execute(self, statement: LoopStatement, values: Mapping[str, Any]) -> psycopg.AsyncCursor[Any]:
        try:
            return await self.connection.execute(statement.sql, statement.parameters(values))
        except psycopg.OperationalError as exc:  # the application's handler answers "database unavailable"
            raise OperationalError(statement.sql, None, exc) from exc


class LoopPostgres:
    """Up to ``size`` asynchronous autocommit connections to one PostgreSQL database, opened on first need."""

    def __init__(self, url: str, size: int = POOL_SIZE, clock: Callable[[], float] = time.monotonic) -> None:
        parsed = make_url(url)
        self.dialect = PGDialect_psycopg()  # type: ignore[no-untyped-call]
        self._conninfo = psycopg.conninfo.make_conninfo(
            "", host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
            dbname=parsed.database, connect_timeout=CONNECT_TIMEOUT_SECONDS,
            **{k: v for k, v in parsed.query.items() if isinstance(v, str)})
        self._size = size
        self._clock = clock
        self._idle: list[LoopConnection] = []
        self._opened = 0
        self._freed = asyncio.Condition()
        self._statements: dict[int, LoopStatement] = {}

    @property
    def in_use(self) -> int:
        """Connections checked out now (each serving one refresh)."""
        return self._opened - len(self._idle)

    def statement(self, statement: ClauseElement) -> LoopStatement:
        """``statement`` compiled for this module, once (statements are module constants)."""
        compiled = self._statements.get(id(statement))
        if compiled is None:
            compiled = self._statements[id(statement)] = LoopStatement(statement, self.dialect)
        return compiled

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[LoopConnection]:
        """A live connection for one refresh. ``Unavailable`` when none can be had; a connection that fails
        while held is closed, not returned."""
        held = await self._checkout()
        try:
            yield held
        except BaseException:
            await self._discard(held)
            raise
        held.used_at = self._clock()
        self._idle.append(held)
        async with self._freed:
            self._freed.notify()

    async def _checkout(self) -> LoopConnection:
        while True:
            while self._idle:
                held = self._idle.pop()
                if self._clock() - held.used_at < ALIVE_BYPASS_SECONDS or await self._alive(held):
                    return held
                await self._discard(held)
            if self._opened < self._size:
                self._opened += 1
                try:
                    connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                except psycopg.Error as exc:
                    self._opened -= 1
                    raise Unavailable(str(exc)) from exc
                return LoopConnection(connection)
            async with self._freed:
                await self._freed.wait_for(lambda: bool(self._idle) or self._opened < self._size)

    @staticmethod
    async def _alive(held: LoopConnection) -> bool:
        try:
            await held.connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    async def _discard(self, held: LoopConnection) -> None:
        self._opened -= 1
        with suppress(psycopg.Error):
            await held.connection.close()
        async with self._freed:
            self._freed.notify()

    async def close(self) -> None:
        while self._idle:
            await self._discard(self._idle.pop())


def loop_postgres(url: str) -> LoopPostgres | None:
    """The loop's connections for a PostgreSQL database through psycopg (3); None for anything else."""
    if make_url(url).drivername == "postgresql+psycopg":
        return LoopPostgres(url)
    return None
