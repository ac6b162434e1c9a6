"""DAU, WAU and MAU per day, and stickiness (DAU / MAU).

For day `t`, DAU/WAU/MAU count distinct accounts with activity in the trailing 1, 7 and 30 days
`[t - w + 1, t]`. Activity is a day set (sign-in, token issued or refreshed, posted usage event). With an
organization, accounts are its members per the directory.

One pass over `account_windows`, read with FINAL one month at a time (`analytics.queries.days.window_rows`):
per account and month of the range, one 64-bit word holds that month and the 32 days before it, so every
trailing window of up to 30 days is a few shifts and ORs of one row, with no grouping by account. Accounts
with the same WAU and MAU masks in a month are counted together, and per-day counts are summed position by
position (`spread`), so the result is one row per month whatever the number of accounts. The organization's
condition applies to the rows of the months, so its member list is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.days import (
    WINDOW_OFFSET,
    add_months,
    coverage,
    month_length,
    months_between,
    spread,
    spread_sums,
    summed,
    unspread,
    window_rows,
)
from analytics.queries.sql import Executor, from_day_number, member_chunks, member_condition, run

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


def _covered(width: int) -> str:
    return f"bitAnd(bitShiftRight({coverage('v', width)}, {WINDOW_OFFSET}), month_mask)"


def _statement(targets: list[date], condition: str) -> str:
    rows = window_rows(targets, lambda t: f", toUInt64({(1 << month_length(t)) - 1}) AS month_mask")
    return (
        f"SELECT m, {summed('d')} AS dau, sumForEach(" + spread("c7", "n") + ") AS wau,"
        " sumForEach(" + spread("c30", "n") + ") AS mau FROM ("
        f" SELECT m, {_covered(7)} AS c7, {_covered(30)} AS c30, count() AS n,"
        f"  {spread_sums(_covered(1), 'd')} FROM ({rows})"
        f" WHERE v != 0 AND {condition}"
        " GROUP BY m, c7, c30)"
        " GROUP BY m"
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
    subs = None if org is None else directory.members(org)
    counts: dict[date, tuple[int, int, int]] = {}
    if span.start < span.end and subs != []:
        targets = months_between(span.start, span.end - timedelta(days=1))
        for chunk in member_chunks(subs):
            for m, *series in run(engine, _statement(targets, member_condition(chunk))):
                first = from_day_number(m)
                daily, weekly, monthly = (unspread(words) for words in series)
                for offset in range((add_months(first, 1) - first).days):
                    day = first + timedelta(days=offset)
                    was = counts.get(day, (0, 0, 0))
                    counts[day] = (was[0] + daily[offset], was[1] + weekly[offset], was[2] + monthly[offset])
    days = []
    for day in span.days():
        dau, wau, mau = counts.get(day, (0, 0, 0))
        days.append(ActiveUsersDay(day, dau, wau, mau, dau / mau if mau else 0.0))
    return ActiveUsers(org, span.start, span.end, days)
