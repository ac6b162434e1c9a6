"""SQL text building shared by the queries.

Queries are plain ClickHouse SQL text so that the same string runs on chDB and on a server (18.16 and
current). Values are inlined as literals (18.16 has no server-side parameters): strings go through
`quote`, dates are ISO literals, timestamps are integer epoch seconds, so the result never depends on
the session time zone. Days come back as `toUInt16(day)` (days since 1970-01-01) and timestamps as
`toUInt32(timestamp)` so that both engines return plain integers.

Membership filters are `account IN (SELECT arrayJoin([...]))`: ClickHouse parses an array literal as
one value, many times faster than a list of thousands of literals, and builds a set from it. Long member
lists are sorted and split into chunks that stay well under ClickHouse's default `max_query_size`
(256 KiB); sorted chunks let the primary key of `account_activity` skip the accounts of other chunks.
Every account metric is a sum over accounts of a per-account quantity, so results of disjoint chunks
simply add up.

Results with one value per account (inactive accounts) come back as one row holding a few long strings
(`packed_strings`, `packed_numbers`): per-row decoding in the drivers costs microseconds per value, a
string split costs nanoseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

EPOCH = date(1970, 1, 1)
CHUNK_BYTES = 200_000
EVENT_KEY = "cityHash64(reinterpretAsString(event_id))"
"""What counts of events count: a 64-bit hash of all 16 bytes of the id. `uniqExact` over a UUID hashes only
half of it on ClickHouse 18.16 (ids crafted to share that half make counting quadratic); over the id's text it
is exact but 3x slower. Two distinct ids share a hash with probability 2^-64: among a million events of one
count, a miscount has odds of about 3 in 100 million."""

Rows = Sequence[Sequence[Any]]


class Executor(Protocol):
    """What the queries need from `analytics.clickhouse.ClickHouse`."""

    def execute(self, statement: str, /) -> Any: ...


def run(engine: Executor, statement: str) -> list[Sequence[Any]]:
    return list(engine.execute(statement))


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SPECIAL = re.compile("[\\\\'\0\n\r\t]")


def quote(value: str) -> str:
    if _SPECIAL.search(value) is None:
        return "'" + value + "'"
    return "'" + _SPECIAL.sub(lambda match: _ESCAPES[match.group()], value) + "'"


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
    """`column` is one of `values` (not empty)."""
    return f"{column} IN (SELECT arrayJoin([{', '.join(quote(value) for value in values)}]))"


def member_chunks(subs: Sequence[str] | None, budget: int | None = None) -> Iterator[list[str] | None]:
    """Sorted chunks of `subs` that fit a statement; one `None` (every account) when `subs` is None."""
    budget = budget or CHUNK_BYTES
    if subs is None:
        yield None
        return
    chunk: list[str] = []
    size = 0
    for sub in sorted(set(subs)):
        cost = len(sub.encode()) + 8
        if chunk and size + cost > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(sub)
        size += cost
    if chunk:
        yield chunk


def member_condition(chunk: Sequence[str] | None, column: str = "account") -> str:
    return "1" if chunk is None else in_list(column, chunk)


def account_chunks(subs: Sequence[str] | None, budget: int | None = None) -> Iterator[str]:
    """SQL conditions that together cover `subs` (or every account when `subs` is None)."""
    for chunk in member_chunks(subs, budget or CHUNK_BYTES):
        yield member_condition(chunk)


def packed_strings(expression: str) -> str:
    """One string holding the strings of the array `expression`, newline-separated; see `unpack_strings`."""
    escaped = f"arrayMap(s -> replaceAll(replaceAll(s, '\\\\', '\\\\\\\\'), '\\n', '\\\\n'), {expression})"
    return f"arrayStringConcat({escaped}, '\\n')"


def unpack_strings(value: Any) -> list[str]:
    text = str(value)
    if not text:
        return []
    items = text.split("\n")
    if "\\" not in text:
        return items
    return [_unescape(item) if "\\" in item else item for item in items]


def _unescape(item: str) -> str:
    out: list[str] = []
    chars = iter(item)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append("\n" if following == "n" else following)
        else:
            out.append(char)
    return "".join(out)


def packed_numbers(expression: str) -> str:
    """One string holding the integers of the array `expression`, comma-separated."""
    return f"arrayStringConcat(arrayMap(x -> toString(x), {expression}), ',')"


def unpack_numbers(value: Any) -> list[int]:
    text = str(value)
    return [int(item) for item in text.split(",")] if text else []
