"""SQL over `account_activity`: per account and UTC month, a 31-bit mask of the days it was active.

Account metrics read these masks instead of a row per active day. The building blocks:

- `MONTH` and `MASK`: per stored row, the month's first day as a day number and the mask. Rows of one
  key in parts not yet merged are separate; every reader ORs them together, which is idempotent.
  `month_filter` selects the rows of an account condition and a range of months.
- `window_rows`: the rows of `account_windows` of some months, one per account and month: a 64-bit word
  `v` whose bit `p` is the day `m - 32 + p` (`m` the month's first day): the 32 days before the month,
  then the month itself. Trailing windows of up to 32 days and "the period before" of days, weeks and
  months can be read from that one word.
- `coverage(v, w)`: bit `p` set when the account was active on any of the `w` days ending at bit `p`.
- `spread`: a per-position count across accounts. A mask is cut into 16 words holding the bits `i` and
  `i + 16` in their low and high 32 bits; summing the words of many rows sums each position in its own
  32-bit field (exact up to 4 billion accounts), see `unspread`.

ClickHouse 18.16 shifts signed results for unsigned arguments and rejects lambdas capturing more than one
column inside aggregates, hence the explicit `toUInt64` and the absence of lambdas over columns. It also
analyses a query once more for every level of subqueries around it, and the expressions here are long:
statements keep to three levels (per account, per account and month, per month) and repeat expressions
rather than name them in extra subqueries (identical expressions are computed once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from analytics.queries.sql import date_literal, day_number

MONTH_BITS = 31
MONTH = "toUInt16(month)"
MASK = "finalizeAggregation(days)"
WINDOW_OFFSET = 32
"""Bit of a window word holding the first day of its month."""


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(first: date, count: int) -> date:
    months = first.year * 12 + first.month - 1 + count
    return date(months // 12, months % 12 + 1, 1)


def month_length(first: date) -> int:
    return (add_months(first, 1) - first).days


def months_between(first: date, last: date) -> list[date]:
    """First days of the months from the one holding `first` to the one holding `last`, both included."""
    found: list[date] = []
    cursor = month_start(first)
    while cursor <= last:
        found.append(cursor)
        cursor = add_months(cursor, 1)
    return found


def month_filter(condition: str, since: date | None = None, until: date | None = None) -> str:
    """`account_activity` rows of `condition` in the months holding `since` to `until` (both optional)."""
    where = [condition]
    if since is not None:
        where.append(f"month >= {date_literal(month_start(since))}")
    if until is not None:
        where.append(f"month <= {date_literal(month_start(until))}")
    return " AND ".join(where)


def highbit(x: str) -> str:
    """The index of the highest set bit of the non-zero unsigned (at most 32-bit) value `x`.

    floor(log2(x)) is off by at most one where x is near a power of two; the comparisons correct it.
    """
    guess = f"toUInt8(floor(log2({x})))"
    return (
        f"toUInt8({guess} - (bitShiftLeft(toUInt64(1), {guess}) > {x})"
        f" + (bitShiftLeft(toUInt64(1), {guess} + 1) <= {x}))"
    )


def lowbit(x: str) -> str:
    """The index of the lowest set bit of the non-zero unsigned (at most 32-bit) value `x`."""
    return highbit(f"bitAnd(toUInt64({x}), bitNot(toUInt64({x})) + 1)")


def day_range_bits(m: str, low: date, high: date) -> str:
    """The bits of the month starting at day number `m` that fall on days `low` to `high` (included)."""
    first = f"(toInt32({day_number(low)}) - {m})"
    last = f"(toInt32({day_number(high)}) - {m})"
    return (
        f"if({last} < 0 OR {first} > {MONTH_BITS - 1}, toUInt64(0),"
        f" bitAnd(toUInt64(bitShiftLeft(toUInt64(1), toUInt8(least({last}, {MONTH_BITS - 1}) + 1)) - 1),"
        f" bitNot(toUInt64(bitShiftLeft(toUInt64(1), toUInt8(greatest({first}, 0))) - 1))))"
    )


def window_rows(targets: Sequence[date], columns: Callable[[date], str]) -> str:
    """The rows of `account_windows` of the target months, read with FINAL one month at a time.

    Each SELECT of the UNION ALL reads one monthly partition, with `account`, `m` (the month's day number),
    `v` (the window word) and the columns `columns(t)` adds (constants of its month: masks). FINAL over
    several partitions merges all of their rows into one sorted stream, compared on the whole key, and
    everything after it runs in one thread; one partition per SELECT merges only the rows that can share
    a key, and the SELECTs run in parallel.
    """
    return " UNION ALL ".join(
        f"SELECT account, toUInt16(month) AS m, toUInt64({MASK}) AS v{columns(t)}"
        f" FROM account_windows FINAL WHERE month = {date_literal(t)}"
        for t in targets
    )


def coverage(v: str, width: int) -> str:
    """Bit `p` set when any of the bits `p - width + 1` to `p` of `v` is set (1 <= width <= 32)."""
    spans = {1: v}
    size = 1
    while size * 2 <= width:
        spans[size * 2] = f"bitOr({spans[size]}, bitShiftLeft({spans[size]}, {size}))"
        size *= 2
    covered: str | None = None
    offset = 0
    for span in sorted(spans, reverse=True):
        if width - offset >= span:
            term = spans[span] if offset == 0 else f"bitShiftLeft({spans[span]}, {offset})"
            covered = term if covered is None else f"bitOr({covered}, {term})"
            offset += span
    assert covered is not None
    return f"toUInt64({covered})"


def spread_words(mask: str) -> list[str]:
    """The 16 words of `spread` without a weight, spelled out."""
    return [f"bitAnd(bitAnd(bitShiftRight({mask}, {i}), 65537) * 65537, 4294967297)" for i in range(16)]


def spread_sums(mask: str, prefix: str) -> str:
    """`sum` of each of the 16 words of `mask`, named `prefix0` to `prefix15`.

    Over many rows, 16 plain sums cost less than `sumForEach` of an array of the words, which builds an
    array per row.
    """
    return ", ".join(f"sum({word}) AS {prefix}{i}" for i, word in enumerate(spread_words(mask)))


def summed(prefix: str) -> str:
    """The array of the sums of the columns `prefix0` to `prefix15` (see `spread_sums`)."""
    return f"[{', '.join(f'sum({prefix}{i})' for i in range(16))}]"


def spread(mask: str, weight: str | None = None) -> str:
    """16 words whose sums over rows count, per bit 0..31 of `mask`, the rows having it (times `weight`).

    Word `i` is `mask >> i` with bits 0 and 16 kept and moved to 0 and 32 (times 65537, then masked).
    Without a weight the words are spelled out (cheapest to run over many rows); with one, a lambda
    builds them (shorter to analyse; 18.16 cannot capture columns in aggregates, so every value is an
    array argument).
    """
    if weight is None:
        return f"[{', '.join(spread_words(mask))}]"
    return (
        "arrayMap((i, x, y) -> bitAnd(bitAnd(bitShiftRight(x, i), 65537) * 65537, 4294967297) * y,"
        f" range(16), arrayResize([{mask}], 16, {mask}), arrayResize([{weight}], 16, {weight}))"
    )


def unspread(words: Sequence[int]) -> list[int]:
    """The 32 per-position counts held by summed `spread` words."""
    values = [int(word) for word in words] or [0] * 16
    return [(values[p % 16] >> (32 * (p // 16))) & 0xFFFFFFFF for p in range(32)]


def mask_days(first: date, mask: int) -> list[date]:
    """The days of the month starting `first` whose bits are set in `mask`."""
    return [first + timedelta(days=bit) for bit in range(MONTH_BITS) if mask >> bit & 1]
