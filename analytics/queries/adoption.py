"""Top events and feature adoption over usage events posted by resource servers (source 'api').

These are event-level metrics: the organization filter applies to `events.organization`, the
organization the event was recorded for, not to the account's memberships. `adoption` is the share of
the accounts that posted any usage event in the same range and organization.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.errors import QueryError
from analytics.queries.sql import Executor, day_start, epoch_seconds, quote, run

MAX_NAMES = 1000


@dataclass(frozen=True, slots=True)
class EventUsage:
    name: str
    events: int
    accounts: int
    adoption: float


@dataclass(frozen=True, slots=True)
class TopEvents:
    organization: str | None
    start: date
    end: date
    accounts: int
    """Distinct accounts with any usage event."""
    events: list[EventUsage]
    """Most frequent first."""


def top_events(
    engine: Executor,
    directory: AccountDirectory,
    start: date,
    end: date,
    organization: str | None = None,
    limit: int = 50,
) -> TopEvents:
    span = params.date_range(start, end)
    org = params.organization(directory, organization)
    params.threshold("limit", limit)
    if limit > MAX_NAMES:
        raise QueryError("limit", f"must be at most {MAX_NAMES}")
    where = (
        f"source = 'api' AND timestamp >= toDateTime({epoch_seconds(day_start(span.start))})"
        f" AND timestamp < toDateTime({epoch_seconds(day_start(span.end))})"
    )
    if org is not None:
        where += f" AND organization = {quote(org)}"
    total_rows = run(engine, f"SELECT uniqExact(account) FROM events WHERE {where}")
    total = int(total_rows[0][0]) if total_rows else 0
    rows = run(
        engine,
        f"SELECT name, uniqExact(event_id) AS n, uniqExact(account) FROM events WHERE {where}"
        f" GROUP BY name ORDER BY n DESC, name LIMIT {limit}",
    )
    usage = [
        EventUsage(str(name), int(count), int(accounts), int(accounts) / total if total else 0.0)
        for name, count, accounts in rows
    ]
    return TopEvents(org, span.start, span.end, total, usage)
