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
dormant = active in the period before - returning. All three come from one pass over the monthly masks
of `account_activity` (see `analytics.queries.days`): each period is marked on one day of a month's
window word (the day itself, the Sunday ending the week, the first day of the month), so "active in the
week" is the 7-day coverage on its Sunday and "the period before" is a shift of the same word.
"""

from __future__ import annotations

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
    lowbit,
    month_filter,
    month_length,
    month_masks,
    months_between,
    spread,
    unspread,
    windows,
)
from analytics.queries.errors import QueryError
from analytics.queries.sql import Executor, day_number, member_chunks, member_condition, run

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


def _marks(targets: list[date], granularity: Granularity) -> str:
    """Per target month, the mask of its days that stand for a period."""
    if granularity == "day":
        return month_masks(targets)
    if granularity == "month":
        return f"[{', '.join('1' for _ in targets)}]"
    masks = []
    for first in targets:
        sunday = (6 - first.weekday()) % 7
        masks.append(sum(1 << bit for bit in range(sunday, month_length(first), 7)))
    return f"[{', '.join(str(mask) for mask in masks)}]"


def _previous_month_masks(targets: list[date]) -> str:
    """Per target month, the bits of its window word holding the month before."""
    masks = []
    for first in targets:
        days = month_length(add_months(first, -1))
        masks.append(((1 << days) - 1) << (WINDOW_OFFSET - days))
    return f"[{', '.join(str(mask) for mask in masks)}]"


def _first_marked(granularity: Granularity) -> str:
    """The day number that stands for the period of the account's first active day `f`."""
    if granularity == "day":
        return "f"
    if granularity == "week":
        return "toInt32(f) + 7 - toDayOfWeek(toDate(f))"
    return "toInt32(toUInt16(toStartOfMonth(toDate(f))))"


def _statement(granularity: Granularity, targets: list[date], condition: str) -> str:
    own = f"bitShiftRight(v, {WINDOW_OFFSET})"
    if granularity == "day":
        active = f"bitAnd({own}, marks)"
        returning = f"bitAnd({active}, bitShiftRight(v, {WINDOW_OFFSET - 1}))"
    elif granularity == "week":
        weeks = coverage("v", 7)
        active = f"bitAnd(bitShiftRight({weeks}, {WINDOW_OFFSET}), marks)"
        returning = f"bitAnd({active}, bitShiftRight({weeks}, {WINDOW_OFFSET - 7}))"
    else:
        active = f"toUInt64(bitAnd({own}, month_mask) != 0)"
        returning = f"toUInt64(bitAnd({own}, month_mask) != 0 AND bitAnd(v, previous_mask) != 0)"
    first = f"toInt32({_first_marked(granularity)})"
    new = f"if({first} >= t AND {first} < t + 31, toUInt64(bitShiftLeft(toUInt64(1), toUInt8({first} - t))), 0)"
    starts = f"[{', '.join(str(day_number(first)) for first in targets)}]"
    return (
        "SELECT j, sumForEach(" + spread("a", "n") + ") AS active, sumForEach(" + spread("r", "n") + ") AS returning,"
        " sumForEach(" + spread("w", "n") + ") AS fresh FROM ("
        f" SELECT j, {active} AS a, {returning} AS r, bitAnd({new}, marks) AS w, count() AS n FROM ("
        f"  SELECT min(toUInt16({MONTH} + {lowbit(MASK)})) AS f, {windows(targets)} AS vs"
        f"  FROM account_activity WHERE {month_filter(condition, None, targets[-1])} GROUP BY account)"
        f" ARRAY JOIN vs AS v, arrayEnumerate(vs) AS j, {starts} AS t, {_marks(targets, granularity)} AS marks,"
        f"  {month_masks(targets)} AS month_mask, {_previous_month_masks(targets)} AS previous_mask"
        " WHERE v != 0"
        " GROUP BY j, a, r, w)"
        " GROUP BY j"
    )


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
        for chunk in member_chunks(subs):
            for j, *masks in run(engine, _statement(granularity, targets, member_condition(chunk))):
                month = targets[int(j) - 1]
                for counts, words in zip((active, returning, new), masks, strict=True):
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
