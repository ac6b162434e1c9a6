"""Top events and feature adoption over usage events posted by resource servers (source 'api').

These are event-level metrics: the organization filter applies to `events.organization`, the
organization the event was recorded for, not to the account's memberships. `adoption` is the share of
the accounts that posted any usage event in the same range and organization.

They read `usage_events`, the usage events alone sorted by organization and day. Events and accounts are
counted in one pass: events by `uniqExact` of the id's full 64-bit hash (`sql.EVENT_KEY`; duplicate deliveries
of an event share its id). Events are counted per organization and name, then summed: the duplicates of an
event share its organization and name, and small per-organization sets are much cheaper to fill than one
set per name. Accounts are kept
as sets (states) per organization and name and merged per name, then for the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.errors import QueryError
from analytics.queries.sql import EVENT_KEY, Executor, date_literal, quote, run

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
    where = f"day >= {date_literal(span.start)} AND day < {date_literal(span.end)}"
    if org is not None:
        where += f" AND organization = {quote(org)}"
    rows = run(
        engine,
        "SELECT groupArray((name, events, finalizeAggregation(accounts))), uniqExactMerge(accounts) FROM ("
        " SELECT name, sum(n) AS events, uniqExactMergeState(a) AS accounts FROM ("
        f"  SELECT organization, name, uniqExact({EVENT_KEY}) AS n, uniqExactState(account) AS a"
        f"  FROM usage_events WHERE {where} GROUP BY organization, name)"
        " GROUP BY name)",
    )
    names, total = (rows[0][0], int(rows[0][1])) if rows else ([], 0)
    ranked = sorted(((str(name), int(count), int(accounts)) for name, count, accounts in names), key=_rank)
    usage = [
        EventUsage(name, count, accounts, accounts / total if total else 0.0)
        for name, count, accounts in ranked[:limit]
    ]
    return TopEvents(org, span.start, span.end, total, usage)


def _rank(usage: tuple[str, int, int]) -> tuple[int, str]:
    """Most events first, then by name (byte order, as ClickHouse sorts)."""
    return -usage[1], usage[0]
