"""How to reach ClickHouse: a server over the native protocol, or chDB embedded in this process.

Both take the same SQLAlchemy statements (built on the tables in ``analytics.schema``), rendered to SQL text
with ClickHouse's own string escaping, and both return rows with Python values of the same types:
DateTime as aware UTC datetimes, Date as dates, UUID as uuid.UUID.

Compare DateTime columns with datetimes and Date columns with dates: ClickHouse 18.16 compares a DateTime
with a Date numerically (seconds against days).
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.sql.expression import ClauseElement

from analytics import blocks
from analytics.events import Event, encode_events
from analytics.schema import EVENT_COLUMNS

log = logging.getLogger(__name__)
_T = TypeVar("_T")

Statement = str | ClauseElement


class ClickHouseError(Exception):
    """A statement failed or ClickHouse could not be reached."""


class Rows(list[tuple[Any, ...]]):
    """Result rows as tuples; ``columns`` names them."""

    def __init__(self, rows: Iterable[tuple[Any, ...]] = (), columns: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.columns: tuple[str, ...] = tuple(columns)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self]


class ClickHouse(ABC):
    """One ClickHouse database, embedded or remote. Thread-safe."""

    @abstractmethod
    def execute(self, statement: Statement) -> Rows: ...

    @abstractmethod
    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        """Insert rows of ``events`` encoded by ``analytics.events.encode_events`` (the spool's format)."""

    def insert_events(self, rows: Sequence[Event]) -> None:
        if rows:
            self.insert_encoded([encode_events(rows)])

    @abstractmethod
    def ping(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> ClickHouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- SQL text ---------------------------------------------------------------------------------------------

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
}
_NEEDS_ESCAPE = re.compile(r"[\\'\b\f\r\n\t\0\a\v]")


def quote(value: str) -> str:
    """A ClickHouse string literal for any Python string."""
    return "'" + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()], value) + "'"


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, uuid.UUID):
        return quote(str(value))
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return f"toDateTime({quote(moment.strftime('%Y-%m-%d %H:%M:%S'))}, 'UTC')"
    if isinstance(value, date):
        return f"toDate({quote(value.isoformat())})"
    if isinstance(value, list | tuple | set | frozenset):
        inner = ", ".join(literal(item) for item in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    raise TypeError(f"no ClickHouse literal for {type(value).__name__}")


def render(statement: Statement) -> str:
    """SQL text for a statement; naive datetimes are taken as UTC."""
    if isinstance(statement, str):
        return statement
    from clickhouse_sqlalchemy.drivers.native.base import ClickHouseDialect_native

    compiled = statement.compile(dialect=ClickHouseDialect_native())
    params = {key: literal(value) for key, value in compiled.params.items()}
    # pyformat: the compiler doubled every literal '%', so substitution is always needed.
    return compiled.string % params


# --- server -----------------------------------------------------------------------------------------------


class ServerEngine(ClickHouse):
    """A ClickHouse server at ``clickhouse+native://user:password@host:port/database``.

    Connections are made on first use, so constructing one never fails while the server is down. The
    database is created if missing.
    """

    def __init__(self, url: str, *, connect_timeout: float = 3.0, receive_timeout: float = 60.0) -> None:
        parsed = sa.engine.make_url(url)
        if not parsed.drivername.startswith("clickhouse"):
            raise ValueError(f"not a ClickHouse URL: {parsed.drivername}")
        self.database = parsed.database or "default"
        self._params: dict[str, Any] = {
            "host": parsed.host or "127.0.0.1",
            "port": parsed.port or 9000,
            "user": parsed.username or "default",
            "password": parsed.password or "",
            "connect_timeout": connect_timeout,
            "send_receive_timeout": receive_timeout,
            "sync_request_timeout": connect_timeout,
            "client_name": "canary",
        }
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._database_ready = False
        self._server_tz: ZoneInfo | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"ServerEngine({self._params['host']}:{self._params['port']}/{self.database})"

    def _new_client(self) -> Any:
        from clickhouse_driver import Client

        if not self._database_ready:
            with self._lock:
                if not self._database_ready:
                    bootstrap = Client(database="default", **self._params)
                    try:
                        bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
                        tz = bootstrap.execute("SELECT timezone()")[0][0]
                        self._server_tz = ZoneInfo(tz)
                    finally:
                        bootstrap.disconnect()
                    self._database_ready = True
        return Client(database=self.database, **self._params)

    def _with_client(self, work: Callable[[Any], _T]) -> _T:
        """``work(client)`` on an idle pooled connection (or a new one); a connection that failed is dropped."""
        if self._closed:
            raise ClickHouseError("engine is closed")
        from clickhouse_driver import errors

        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = None
        try:
            if client is None:
                client = self._new_client()
            result = work(client)
        except (errors.Error, OSError, EOFError) as exc:
            if client is not None:
                client.disconnect()
            raise ClickHouseError(str(exc)) from exc
        except BaseException:
            if client is not None:
                client.disconnect()
            raise
        self._idle.put(client)
        return result

    def _run(self, sql: str, data: Any = None, **kwargs: Any) -> Any:
        args = (sql,) if data is None else (sql, data)
        return self._with_client(lambda client: client.execute(*args, **kwargs))

    def execute(self, statement: Statement) -> Rows:
        if isinstance(statement, sa.Insert) and statement.select is None:
            # Over the native protocol the rows of an INSERT travel as a data block, not in the SQL text.
            sql, row = _insert_block(statement)
            self._run(sql, [row])
            return Rows()
        rows, columns = self._run(render(statement), with_column_types=True)
        tz = self._server_tz or UTC
        return Rows(
            (tuple(_aware(value, tz) for value in row) for row in rows),
            [name for name, _type in columns],
        )

    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        block = blocks.combine(chunks)
        if block.rows:
            self._run_insert(_INSERT_EVENTS, block)

    def _run_insert(self, sql: str, block: blocks.Block) -> None:
        """``sql`` (an INSERT ... VALUES) with ``block`` sent as one Native data packet.

        clickhouse-driver builds a data block from Python values, several µs of Python per row; the spool
        holds the columns in Native form already, so the packet is written from them as they are. Query,
        sample block, end-of-data and the replies are the driver's own steps of an insert.
        """
        self._with_client(lambda client: _send_native_insert(client, sql, block))

    def ping(self) -> bool:
        try:
            self._run("SELECT 1")
        except ClickHouseError:
            return False
        return True

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().disconnect()
            except queue.Empty:
                return


_INSERT_EVENTS = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES"


def _send_native_insert(client: Any, sql: str, block: blocks.Block) -> None:
    from clickhouse_driver import defines
    from clickhouse_driver.block import BlockInfo, ColumnOrientedBlock
    from clickhouse_driver.protocol import ClientPacketTypes
    from clickhouse_driver.varint import write_varint
    from clickhouse_driver.writer import write_binary_str, write_binary_uint8

    with client.disconnect_on_error(sql, None):
        connection = client.connection
        if connection.compression:
            raise ClickHouseError("Native inserts are written uncompressed; the connection compresses")
        connection.send_query(sql)
        connection.send_external_tables(None)
        sample = client.receive_sample_block()
        if sample is None:
            raise ClickHouseError("the server sent no sample block for the insert")
        expected = list(zip(EVENT_COLUMNS, blocks.EVENT_TYPES, strict=True))
        if [(name, kind) for name, kind in sample.columns_with_types] != expected:
            raise ClickHouseError(f"events has columns {sample.columns_with_types}, expected {expected}")
        revision = connection.server_info.used_revision
        out = connection.fout
        write_varint(ClientPacketTypes.DATA, out)
        if revision >= defines.DBMS_MIN_REVISION_WITH_TEMPORARY_TABLES:
            write_binary_str("", out)
        if revision >= defines.DBMS_MIN_REVISION_WITH_BLOCK_INFO:
            BlockInfo().write(out)
        write_varint(len(expected), out)
        write_varint(block.rows, out)
        for (name, kind), data in zip(expected, block.columns, strict=True):
            write_binary_str(name, out)
            write_binary_str(kind, out)
            if revision >= defines.DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION:
                write_binary_uint8(0, out)
            out.write(data)
        out.flush()
        client.receive_profile_events()
        connection.send_data(ColumnOrientedBlock())  # an empty block ends the data
        client.receive_profile_events()
        client.receive_end_of_insert_query()


def _insert_block(statement: sa.Insert) -> tuple[str, tuple[Any, ...]]:
    from clickhouse_sqlalchemy.drivers.native.base import ClickHouseDialect_native

    compiled = statement.compile(dialect=ClickHouseDialect_native())
    params = compiled.params
    table = statement.table
    assert isinstance(table, sa.Table)
    names = [column.name for column in table.columns if column.key in params]
    if len(names) != len(params):
        raise ValueError("only single-row INSERT ... VALUES statements are supported")
    row = tuple(params[table.columns[name].key] for name in names)
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES", row


def _aware(value: Any, tz: ZoneInfo | Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return value.astimezone(UTC)
    if isinstance(value, list):
        return [_aware(item, tz) for item in value]
    if isinstance(value, tuple):
        return tuple(_aware(item, tz) for item in value)
    return value


# --- embedded ---------------------------------------------------------------------------------------------


class EmbeddedEngine(ClickHouse):
    """chDB with its data under ``path``. One process at a time may open a given directory."""

    def __init__(self, path: Path) -> None:
        from chdb import session as chdb_session

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        try:
            session_class: Any = chdb_session.Session
            self._session: Any = session_class(str(path))
            self._session.query("SET session_timezone = 'UTC'")
        except Exception as exc:
            raise ClickHouseError(f"cannot open chDB at {path}: {exc}") from exc
        self._closed = False
        # Without collapsing an inserted block's rows by their sort keys first (ClickHouse 18.16 never does):
        # chDB runs in the serving process, and this took a fifth of its CPU per event. Readers never count on
        # it, since parts from different inserts are not collapsed either until they merge.
        self._insert = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) SETTINGS optimize_on_insert = 0"

    def __repr__(self) -> str:
        return f"EmbeddedEngine({self.path})"

    def _query(self, sql: str, fmt: str = "CSV") -> Any:
        with self._lock:
            if self._closed:
                raise ClickHouseError("engine is closed")
            try:
                return self._session.query(sql, fmt)
            except Exception as exc:
                raise ClickHouseError(str(exc)) from exc

    def execute(self, statement: Statement) -> Rows:
        result = self._query(render(statement), "JSONCompact")
        text = result.data() if result is not None else ""
        if not text.strip():
            return Rows()
        document = json.loads(text)
        types = [column["type"] for column in document["meta"]]
        return Rows(
            (
                tuple(_from_json(value, kind) for value, kind in zip(row, types, strict=True))
                for row in document["data"]
            ),
            [column["name"] for column in document["meta"]],
        )

    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        block = blocks.combine(chunks)
        if not block.rows:
            return
        data = block.native()
        with self._lock:
            if self._closed:
                raise ClickHouseError("engine is closed")
            try:
                with self._session.send_insert(self._insert, "Native") as ins:
                    ins.append(data)
                    ins.finish()
            except Exception as exc:
                raise ClickHouseError(str(exc)) from exc

    def ping(self) -> bool:
        try:
            self._query("SELECT 1")
        except ClickHouseError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._session.close()


_WRAPPERS = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")


def _from_json(value: Any, kind: str) -> Any:
    """A JSONCompact value as the Python value clickhouse-driver would return (UTC for DateTime)."""
    while (match := _WRAPPERS.match(kind)) is not None:
        kind = match.group(1)
    if value is None:
        return None
    if kind.startswith(("Int", "UInt")):
        return int(value)
    if kind.startswith("Float"):
        return float(value)
    if kind.startswith("Decimal"):
        return Decimal(str(value))
    if kind == "UUID":
        return uuid.UUID(value)
    if kind.startswith("DateTime"):
        moment = datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
        return moment.replace(tzinfo=_datetime_zone(kind)).astimezone(UTC)
    if kind.startswith("Date"):
        return date.fromisoformat(value)
    if kind == "Bool":
        return bool(value)
    if kind.startswith("Array(") and isinstance(value, list):
        return [_from_json(item, kind[6:-1]) for item in value]
    if kind.startswith("Tuple(") and isinstance(value, list):
        return tuple(value)
    return value


def _datetime_zone(kind: str) -> Any:
    match = re.search(r"'([^']+)'", kind)
    if match is None:
        return UTC
    return ZoneInfo(match.group(1))


def open_engine(url: str | None, data_dir: Path) -> ClickHouse:
    """The server at ``url``, or chDB under ``data_dir / "clickhouse"`` when no URL is given."""
    if url:
        return ServerEngine(url)
    return EmbeddedEngine(data_dir / "clickhouse")
