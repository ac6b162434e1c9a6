"""SQL text for ClickHouse: string literals with ClickHouse's own escaping, and statements rendered with them.

Both engines send statements as text (no server-side parameters on 18.16); every value goes through
``literal``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from analytics.clickhouse.engine import Statement

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


def insert_row(statement: sa.Insert) -> tuple[str, tuple[Any, ...]]:
    """A single-row ``INSERT ... VALUES`` as the statement's text without values, and the row."""
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
