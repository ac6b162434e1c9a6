"""Each account's active days over a window of up to 128 days, read from `account_activity` in one statement.

Per account: its last active day up to today (over every month, as `inactive.per_account` reads it) and the
days of the window `[start, today]` as two 64-bit words: bit `p` of `w0` is the day `start + p`, bit `p` of
`w1` the day `start + 64 + p`. Each monthly mask is shifted into place (left when its month begins after the
word's first day, right when before) and the rows of an account are OR-ed, which is idempotent like every
reader of these masks. Only accounts last active after `since` come back: the rest are past any threshold
a caller asks about. The result is one row of packed strings (`analytics.queries.sql`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from analytics.queries.days import MASK, MONTH, month_start
from analytics.queries.inactive import per_account
from analytics.queries.sql import (
    Executor,
    day_number,
    from_day_number,
    member_chunks,
    member_condition,
    packed_numbers,
    packed_strings,
    run,
    unpack_numbers,
    unpack_strings,
)

WORD_BITS = 64


@dataclass(frozen=True, slots=True)
class Windows:
    start: date
    """The window's first day: bit 0 of every account's `bits`."""
    today: date
    bits: dict[str, int]
    """Per account, its active days in the window."""
    last: dict[str, date]
    """Per account, its last active day up to today (before the window, possibly)."""


def _capped(today: date) -> str:
    return f"if({MONTH} = {day_number(month_start(today))}, bitAnd({MASK}, {(1 << today.day) - 1}), {MASK})"


def _word(first_day: int, mask: str) -> str:
    """The bits of `mask` (a month's row) moved to a word whose bit 0 is the day number `first_day`."""
    k = f"(toInt32({MONTH}) - {first_day})"
    return (
        f"if({k} >= 0, bitShiftLeft(toUInt64({mask}), toUInt8(greatest(0, least({k}, 63)))) * ({k} < 64),"
        f" bitShiftRight(toUInt64({mask}), toUInt8(greatest(0, least(-{k}, 63)))))"
    )


def window_rows(chunk: Sequence[str] | None, start: date, today: date, since: date | None = None) -> str:
    """A statement of `account`, `last`, `w0` and `w1` per account among `chunk` (every account when None),
    only those last active after `since` when given."""
    first = day_number(start)
    mask = _capped(today)
    columns = (f", groupBitOr({_word(first, mask)}) AS w0, groupBitOr({_word(first + WORD_BITS, mask)}) AS w1")
    rows = per_account(member_condition(chunk), today, columns)
    return rows if since is None else f"{rows} HAVING last > {day_number(since)}"


def read_windows(engine: Executor, subs: Sequence[str] | None, start: date, today: date, since: date) -> Windows:
    """The window `[start, today]` (at most 128 days) of the accounts among `subs` (every account when None)
    last active after `since`."""
    if (today - start).days >= 2 * WORD_BITS:
        raise ValueError("a window holds at most 128 days")
    bits: dict[str, int] = {}
    last: dict[str, date] = {}
    if subs is not None and not subs:
        return Windows(start, today, bits, last)
    keep = f"last > {day_number(since)}"
    for chunk in member_chunks(subs):
        statement = (
            f"SELECT {packed_strings(f'groupArrayIf(account, {keep})')},"
            f" {packed_numbers(f'groupArrayIf(last, {keep})')},"
            f" {packed_numbers(f'groupArrayIf(w0, {keep})')}, {packed_numbers(f'groupArrayIf(w1, {keep})')}"
            f" FROM ({window_rows(chunk, start, today)})"
        )
        for accounts, lasts, low, high in run(engine, statement):
            for account, day, w0, w1 in zip(unpack_strings(accounts), unpack_numbers(lasts), unpack_numbers(low),
                                            unpack_numbers(high), strict=True):
                bits[account] = w0 | w1 << WORD_BITS
                last[account] = from_day_number(day)
    return Windows(start, today, bits, last)
