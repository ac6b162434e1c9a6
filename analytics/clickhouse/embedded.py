"""chDB: ClickHouse embedded in this process, with its data in a directory of its own."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from analytics import observe
from analytics.clickhouse.engine import ClickHouse, ClickHouseError, Rows, Statement
from analytics.clickhouse.sql import render
from analytics.ingest import blocks
from analytics.migrations import EVENT_COLUMNS


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
                observe.count("clickhouse_errors")
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
                observe.count("clickhouse_errors")
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
