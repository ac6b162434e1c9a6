"""SQL text building shared by the queries.

Queries are plain ClickHouse SQL text so that the same string runs on chDB and on a server (18.16 and
current). Values are inlined as literals (18.16 has no server-side parameters): strings go through
`quote`, dates are ISO literals, timestamps are integer epoch seconds, so the result never depends on
the session time zone. Days come back as `toUInt16(day)` (days since 1970-01-01) and timestamps as
`toUInt32(timestamp)` so that both engines return plain integers.

Membership filters (`account IN (...)`) are split into chunks that stay well under ClickHouse's
default `max_query_size` (256 KiB). Every account metric is a sum over accounts of a per-account
quantity, so results of disjoint chunks simply add up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

EPOCH = date(1970, 1, 1)
ACTIVITY_NAMES = ("signin.succeeded", "token.issued", "token.refreshed")
CHUNK_BYTES = 100_000

Rows = Sequence[Sequence[Any]]


class Executor(Protocol):
    """What the queries need from `analytics.engines.ClickHouse`."""

    def execute(self, statement: str, /) -> Any: ...


def run(engine: Executor, statement: str) -> list[Sequence[Any]]:
    return list(engine.execute(statement))


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str) -> str:
    return "'" + "".join(_ESCAPES.get(char, char) for char in value) + "'"


def date_literal(day: date) -> str:
    return f"toDate('{day.isoformat()}')"


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def timestamp_literal(moment: datetime) -> str:
    return f"toDateTime({epoch_seconds(moment)})"


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def from_day_number(value: Any) -> date:
    return EPOCH + timedelta(days=int(value))


def day_number(day: date) -> int:
    return (day - EPOCH).days


def from_epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def in_list(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(quote(value) for value in values)})"


def account_chunks(subs: Sequence[str] | None, budget: int | None = None) -> Iterator[str]:
    """SQL conditions that together cover `subs` (or every account when `subs` is None)."""
    budget = budget or CHUNK_BYTES
    if subs is None:
        yield "1"
        return
    chunk: list[str] = []
    size = 0
    for sub in subs:
        cost = len(sub) + 8
        if chunk and size + cost > budget:
            yield in_list("account", chunk)
            chunk, size = [], 0
        chunk.append(sub)
        size += cost
    if chunk:
        yield in_list("account", chunk)
