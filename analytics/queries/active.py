"""DAU, WAU and MAU per day, and stickiness (DAU / MAU).

For day `t`, DAU/WAU/MAU count distinct accounts with activity in the trailing 1, 7 and 30 days
`[t - w + 1, t]`. Activity is a row of `daily_activity` (sign-in, token issued or refreshed, posted
usage event). With an organization, accounts are its members per the directory.

Instead of expanding every active day into the `w` days it covers, each account's sorted active days
are turned into merged coverage intervals `[first, last + w)` in ClickHouse; the query returns, per
window and day, how many intervals open (+1) or close (-1), and the series is their running sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.sql import Executor, account_chunks, date_literal, day_number, run

WINDOWS = (1, 7, 30)


@dataclass(frozen=True, slots=True)
class ActiveUsersDay:
    day: date
    dau: int
    wau: int
    mau: int
    stickiness: float
    """DAU / MAU, 0.0 when MAU is 0."""


@dataclass(frozen=True, slots=True)
class ActiveUsers:
    organization: str | None
    start: date
    end: date
    days: list[ActiveUsersDay]


def _edges(window: int) -> str:
    # `gaps[i]` is the distance to the previous active day, `ahead[i]` to the next one; a sentinel far
    # larger than any window stands for "none". Lambdas take these arrays as arguments rather than
    # indexing `ds` inside, which would copy `ds` once per element.
    opens = (
        f"arrayMap(x -> (toUInt8({window}), toInt32(x), toInt8(1)), arrayFilter((x, gap) -> gap > {window}, ds, gaps))"
    )
    closes = (
        f"arrayMap(x -> (toUInt8({window}), toInt32(x) + {window}, toInt8(-1)), "
        f"arrayFilter((x, gap) -> gap > {window}, ds, ahead))"
    )
    return f"{opens}, {closes}"


def _statement(low: date, end: date, condition: str) -> str:
    edges = ", ".join(_edges(window) for window in WINDOWS)
    return (
        "SELECT edge.1 AS w, edge.2 AS d, sum(edge.3) AS delta FROM ("
        f" SELECT arrayJoin(arrayConcat({edges})) AS edge FROM ("
        "  SELECT ds, arrayMap(d -> toInt32(d), arrayDifference(ds)) AS steps,"
        "   arrayPushFront(arrayPopFront(steps), 100000) AS gaps,"
        "   arrayPushBack(arrayPopFront(steps), 100000) AS ahead FROM ("
        "  SELECT account, arraySort(groupUniqArray(toUInt16(day))) AS ds FROM daily_activity"
        f"  WHERE day >= {date_literal(low)} AND day < {date_literal(end)} AND {condition}"
        "  GROUP BY account)))"
        " GROUP BY w, d"
    )


def active_users(
    engine: Executor,
    directory: AccountDirectory,
    start: date,
    end: date,
    organization: str | None = None,
) -> ActiveUsers:
    span = params.date_range(start, end)
    org = params.organization(directory, organization)
    subs = None if org is None else [ref.sub for ref in directory.accounts(org)]
    deltas: dict[int, dict[int, int]] = {window: {} for window in WINDOWS}
    if span.start < span.end and subs != []:
        low = span.start - timedelta(days=max(WINDOWS) - 1)
        for condition in account_chunks(subs):
            for window, day, delta in run(engine, _statement(low, span.end, condition)):
                per_day = deltas[int(window)]
                per_day[int(day)] = per_day.get(int(day), 0) + int(delta)
    first = day_number(span.start)
    running = {window: sum(d for n, d in deltas[window].items() if n < first) for window in WINDOWS}
    series = []
    for day in span.days():
        number = day_number(day)
        for window in WINDOWS:
            running[window] += deltas[window].get(number, 0)
        dau, wau, mau = running[1], running[7], running[30]
        series.append(ActiveUsersDay(day, dau, wau, mau, dau / mau if mau else 0.0))
    return ActiveUsers(org, span.start, span.end, series)
