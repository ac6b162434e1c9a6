"""Plain-Python answers over a simulation's distinct events, to check the ClickHouse queries against."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from analytics.queries.lifecycle import Granularity, period_of, shift
from tests.analytics_queries.factory import Simulation


def active_days(sim: Simulation, subs: set[str] | None = None) -> dict[str, set[date]]:
    days: dict[str, set[date]] = defaultdict(set)
    for event in sim.events:
        if event.is_activity and (subs is None or event.account in subs):
            days[event.account].add(event.timestamp.date())
    return days


def members(sim: Simulation, organization: str | None) -> set[str] | None:
    if organization is None:
        return None
    return {ref.sub for ref in sim.directory.accounts(organization)}


def active_users(sim: Simulation, start: date, end: date, organization: str | None) -> list[tuple[int, int, int]]:
    days = active_days(sim, members(sim, organization))
    series = []
    day = start
    while day < end:
        counts = []
        for window in (1, 7, 30):
            low = day - timedelta(days=window - 1)
            counts.append(sum(1 for seen in days.values() if any(low <= d <= day for d in seen)))
        series.append((counts[0], counts[1], counts[2]))
        day += timedelta(days=1)
    return series


def lifecycle(
    sim: Simulation, start: date, end: date, granularity: Granularity, organization: str | None
) -> list[tuple[date, int, int, int, int]]:
    days = active_days(sim, members(sim, organization))
    result = []
    period = period_of(start, granularity)
    last = period_of(end - timedelta(days=1), granularity)
    while period <= last:
        previous, following = shift(period, granularity, -1), period
        new = returning = resurrecting = dormant = 0
        for seen in days.values():
            periods = {period_of(d, granularity) for d in seen}
            first = period_of(min(seen), granularity)
            if period in periods:
                if first == period:
                    new += 1
                elif previous in periods:
                    returning += 1
                else:
                    resurrecting += 1
            elif previous in periods:
                dormant += 1
        result.append((following, new, returning, resurrecting, -dormant))
        period = shift(period, granularity, 1)
    return result


def last_seen(sim: Simulation, until: date) -> dict[str, date]:
    found: dict[str, date] = {}
    for sub, seen in active_days(sim).items():
        past = [d for d in seen if d <= until]
        if past:
            found[sub] = max(past)
    return found


def inactive(sim: Simulation, threshold: int, organization: str | None) -> dict[str, tuple[date | None, int]]:
    seen = last_seen(sim, sim.today)
    found = {}
    for ref in sim.directory.accounts(organization):
        last = seen.get(ref.sub)
        idle = (sim.today - (last if last is not None else ref.created_at.date())).days
        if idle >= threshold:
            found[ref.sub] = (last, idle)
    return found


def health(sim: Simulation, organization: str) -> tuple[int, int, int, int, int]:
    subs = members(sim, organization) or set()
    days = active_days(sim, subs)
    today = sim.today

    def active(low: date, high: date) -> int:
        return sum(1 for seen in days.values() if any(low <= d <= high for d in seen))

    return (
        len(subs),
        active(today - timedelta(days=6), today),
        active(today - timedelta(days=29), today),
        len(inactive(sim, 30, organization)),
        active(today - timedelta(days=59), today - timedelta(days=30)),
    )


def top_events(
    sim: Simulation, start: date, end: date, organization: str | None
) -> tuple[int, dict[str, tuple[int, int]]]:
    events: dict[str, int] = defaultdict(int)
    accounts: dict[str, set[str]] = defaultdict(set)
    everyone: set[str] = set()
    for event in sim.events:
        if event.source != "api" or not (start <= event.timestamp.date() < end):
            continue
        if organization is not None and event.organization != organization:
            continue
        events[event.name] += 1
        accounts[event.name].add(event.account)
        everyone.add(event.account)
    return len(everyone), {name: (events[name], len(accounts[name])) for name in events}
