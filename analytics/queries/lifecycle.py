"""Lifecycle of active accounts per day, week or month, with PostHog's definitions.

For a period P (calendar day, ISO week starting Monday, or calendar month, UTC):

- new: the account's first activity ever falls in P;
- returning: active in P and in the period before;
- resurrecting: active in P, not in the period before, and active at some time before that;
- dormant: active in the period before, not in P. Reported as a negative number, as PostHog plots it.

new + returning + resurrecting = the accounts active in P. Periods are whole calendar periods: the
report lists every period that overlaps `[start, end)`, and activity anywhere in such a period counts.
With an organization, accounts are its members per the directory; "first activity ever" is the
account's first activity anywhere.

Counting needs, per period, the accounts active in it, those active in it and in the period before
(returning), and those whose first activity falls in it (new): resurrecting = active - new - returning,
dormant = active in the period before - returning. One statement of two parts:

- active and returning from the window words of `account_windows` (see `analytics.queries.days`), one
  row per account and month of the report, read with FINAL one month at a time: each period is marked on
  one day of a month's word (the day itself, the Sunday ending the week, the first day of the month), so
  "active in the week" is the 7-day coverage on its Sunday and "the period before" is a shift of the same
  word. Accounts with the same marks in a month are counted together.
- new from the first active day of every account: a histogram of first days, one value per distinct
  day, mapped to periods in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.days import (
    MASK,
    MONTH,
    WINDOW_OFFSET,
    add_months,
    coverage,
    month_filter,
    month_length,
    months_between,
    spread,
    unspread,
    window_rows,
)
from analytics.queries.errors import QueryError
from analytics.queries.sql import Executor, from_day_number, member_chunks, member_condition, run

Granularity = Literal["day", "week", "month"]

_GRANULARITIES = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class LifecyclePeriod:
    period_start: date
    new: int
    returning: int
    resurrecting: int
    dormant: int
    """Zero or negative."""


@dataclass(frozen=True, slots=True)
class Lifecycle:
    granularity: Granularity
    organization: str | None
    periods: list[LifecyclePeriod]


def period_of(day: date, granularity: Granularity) -> date:
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def shift(period: date, granularity: Granularity, count: int) -> date:
    if granularity == "day":
        return period + timedelta(days=count)
    if granularity == "week":
        return period + timedelta(days=7 * count)
    months = period.year * 12 + period.month - 1 + count
    return date(months // 12, months % 12 + 1, 1)


def _marked_day(period: date, granularity: Granularity) -> date:
    """The day that stands for `period` in window words: the day, the Sunday ending the week, the 1st."""
    return period + timedelta(days=6) if granularity == "week" else period


def _marks(first: date, granularity: Granularity) -> int:
    """The mask of the days of the month starting `first` that stand for a period."""
    if granularity == "day":
        return (1 << month_length(first)) - 1
    if granularity == "month":
        return 1
    sunday = (6 - first.weekday()) % 7
    return sum(1 << bit for bit in range(sunday, month_length(first), 7))


def _month_constants(granularity: Granularity) -> Callable[[date], str]:
    """The columns `window_rows` adds per target month: its marks and, per month, the masks of its own
    days and of the days of the month before in the window word."""

    def columns(first: date) -> str:
        marks = f", toUInt64({_marks(first, granularity)}) AS marks"
        if granularity != "month":
            return marks
        days = month_length(add_months(first, -1))
        before = ((1 << days) - 1) << (WINDOW_OFFSET - days)
        return f"{marks}, toUInt64({(1 << month_length(first)) - 1}) AS month_mask, toUInt64({before}) AS previous_mask"

    return columns


# The first day for which `account_activity` holds activity. A window word of `account_windows` also holds
# days of months that retention dropped from `account_activity` (see `analytics.retention`): lifecycle clears
# them, so that a first activity is the first one still stored, as everywhere else. Empty table: 0. Read
# before the statement and written into it as a number: over Distributed tables (a cluster), ClickHouse 18.16
# fails on a scalar subquery inside an aggregate's argument.
_RETAINED = "SELECT toInt32(toUInt16(min(month))) FROM account_activity"


def _kept(word: str, month: str, retained: int) -> str:
    """The window word `word` of the row of day number `month`, without the days before `retained`."""
    keep = (
        f"bitNot(toUInt64(bitShiftLeft(toUInt64(1), toUInt8(greatest(0, least(63, toInt32({retained})"
        f" - toInt32({month})"
        f" + {WINDOW_OFFSET})))) - 1))"
    )
    return f"bitAnd({word}, {keep})"


# An account's first activity is in a month whose window word has no day in the 32 days before it, and
# it is the earliest such month: per account, the smallest `month << 32 | lowest set bit of the month's own
# days` over those rows only (about one per account and stretch of activity). Taking a minimum needs no
# FINAL: a row split over unmerged parts holds subsets of the bits, and the part with the first day passes.
# Two operations per row; the bit's index is found once per distinct value, in Python (`_first_day`).
_FIRST = "min(bitOr(bitShiftLeft(toUInt64(toUInt16(month)), 32), bitAnd(own, bitNot(own) + 1)))"


def _statement(granularity: Granularity, targets: list[date], condition: str, retained: int) -> str:
    own = f"bitShiftRight(u, {WINDOW_OFFSET})"
    if granularity == "day":
        active = f"bitAnd({own}, marks)"
        returning = f"bitAnd({active}, bitShiftRight(u, {WINDOW_OFFSET - 1}))"
    elif granularity == "week":
        weeks = coverage("u", 7)
        active = f"bitAnd(bitShiftRight({weeks}, {WINDOW_OFFSET}), marks)"
        returning = f"bitAnd({active}, bitShiftRight({weeks}, {WINDOW_OFFSET - 7}))"
    else:
        active = f"toUInt64(bitAnd({own}, month_mask) != 0)"
        returning = f"toUInt64(bitAnd({own}, month_mask) != 0 AND bitAnd(u, previous_mask) != 0)"
    windows = (
        "SELECT toUInt8(0) AS part, toUInt64(m) AS key, sumForEach(" + spread("a", "n") + ") AS xs,"
        " sumForEach(" + spread("r", "n") + ") AS ys FROM ("
        f" SELECT m, {active} AS a, {returning} AS r, count() AS n"
        f" FROM ({window_rows(targets, _month_constants(granularity))})"
        f" WHERE ({_kept('v', 'm', retained)} AS u) != 0 AND {condition}"
        " GROUP BY m, a, r)"
        " GROUP BY m"
    )
    if condition == "1":
        stored = _kept(f"toUInt64({MASK})", MONTH, retained)
        accounts = (
            f"SELECT {_FIRST} AS f FROM account_windows WHERE {month_filter(condition, None, targets[-1])}"
            f" AND bitAnd(({stored}) AS w, {(1 << WINDOW_OFFSET) - 1}) = 0"
            f" AND (bitShiftRight(w, {WINDOW_OFFSET}) AS own) != 0"
        )
    else:
        # Members only: checking the condition costs more per row than the mask, and account_activity has
        # fewer rows; its months hold only what retention kept, the first stored activity by definition.
        accounts = (
            f"SELECT {_FIRST} AS f FROM account_activity"
            f" WHERE {month_filter(condition, None, targets[-1])} AND (toUInt64({MASK}) AS own) != 0"
        )
    firsts = (
        "SELECT toUInt8(1) AS part, toUInt64(0) AS key, groupArray(f) AS xs, groupArray(n) AS ys FROM ("
        f" SELECT f, count() AS n FROM ({accounts} GROUP BY account)"
        " GROUP BY f)"
    )
    return f"{windows} UNION ALL {firsts}"


def _first_day(value: int) -> date | None:
    """The day of a `_FIRST` value: its month's day number above bit 32, the day's bit below."""
    bit = value & 0xFFFFFFFF
    return None if bit == 0 else from_day_number((value >> 32) + bit.bit_length() - 1)


def lifecycle(
    engine: Executor,
    directory: AccountDirectory,
    start: date,
    end: date,
    granularity: Granularity = "day",
    organization: str | None = None,
) -> Lifecycle:
    span = params.date_range(start, end)
    if granularity not in _GRANULARITIES:
        raise QueryError("granularity", "must be day, week or month")
    org = params.organization(directory, organization)
    if span.start == span.end:
        return Lifecycle(granularity, org, [])
    first = period_of(span.start, granularity)
    last = period_of(span.end - timedelta(days=1), granularity)
    periods: list[date] = []
    cursor = first
    while cursor <= last:
        periods.append(cursor)
        cursor = shift(cursor, granularity, 1)
    before = shift(first, granularity, -1)
    active: dict[date, int] = {}
    returning: dict[date, int] = {}
    new: dict[date, int] = {}
    subs = None if org is None else directory.members(org)
    if subs != []:
        targets = months_between(_marked_day(before, granularity), _marked_day(last, granularity))
        retained = int(run(engine, _RETAINED)[0][0])
        for chunk in member_chunks(subs):
            statement = _statement(granularity, targets, member_condition(chunk), retained)
            for part, key, xs, ys in run(engine, statement):
                if part:
                    for first_day, count in zip(xs, ys, strict=True):
                        day = _first_day(int(first_day))
                        if day is not None:
                            period = period_of(day, granularity)
                            new[period] = new.get(period, 0) + int(count)
                    continue
                month = from_day_number(key)
                for counts, words in ((active, xs), (returning, ys)):
                    for offset, count in enumerate(unspread(words)):
                        if count:
                            period = period_of(month + timedelta(days=offset), granularity)
                            counts[period] = counts.get(period, 0) + count
    rows = []
    for period in periods:
        previous = shift(period, granularity, -1)
        fresh, back = new.get(period, 0), returning.get(period, 0)
        resurrecting = active.get(period, 0) - fresh - back
        rows.append(LifecyclePeriod(period, fresh, back, resurrecting, -(active.get(previous, 0) - back)))
    return Lifecycle(granularity, org, rows)
