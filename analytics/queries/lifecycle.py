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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.errors import QueryError
from analytics.queries.sql import Executor, account_chunks, date_literal, from_day_number, run

Granularity = Literal["day", "week", "month"]

_PERIOD_SQL = {
    "day": ("{column}", "p - 1", "p + 1"),
    "week": ("toMonday({column})", "p - 7", "p + 7"),
    "month": ("toStartOfMonth({column})", "subtractMonths(p, 1)", "addMonths(p, 1)"),
}


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


def _statement(granularity: Granularity, low: date, high: date, condition: str) -> str:
    period, previous, following = _PERIOD_SQL[granularity]
    active_period = period.format(column="day")
    return (
        "SELECT toUInt16(pair.1) AS period, pair.2 AS status, count() AS accounts FROM ("
        " SELECT arrayJoin(arrayFilter(t -> t.2 != '', ["
        f"  (p, if({period.format(column='first')} = p, 'new',"
        f"       if(has(ps, {previous}), 'returning', 'resurrecting'))),"
        f"  ({following}, if(has(ps, {following}), '', 'dormant'))])) AS pair"
        " FROM ("
        "  SELECT account, min(day) AS first,"
        f"  groupUniqArrayIf({active_period}, day >= {date_literal(low)}) AS ps"
        f"  FROM daily_activity WHERE day < {date_literal(high)} AND {condition}"
        "  GROUP BY account HAVING notEmpty(ps))"
        " ARRAY JOIN ps AS p)"
        " GROUP BY period, status"
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
    if granularity not in _PERIOD_SQL:
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
    counts = {period: {"new": 0, "returning": 0, "resurrecting": 0, "dormant": 0} for period in periods}
    subs = None if org is None else [ref.sub for ref in directory.accounts(org)]
    if subs != []:
        low, high = shift(first, granularity, -1), shift(last, granularity, 1)
        for condition in account_chunks(subs):
            for number, status, accounts in run(engine, _statement(granularity, low, high, condition)):
                bucket = counts.get(from_day_number(number))
                if bucket is not None:
                    bucket[str(status)] += int(accounts)
    return Lifecycle(
        granularity,
        org,
        [
            LifecyclePeriod(
                period,
                counts[period]["new"],
                counts[period]["returning"],
                counts[period]["resurrecting"],
                -counts[period]["dormant"],
            )
            for period in periods
        ],
    )
