"""Top events and feature adoption over usage events posted by resource servers (source 'api').

These are event-level metrics: the organization filter applies to `events.organization`, the
organization the event was recorded for, not to the account's memberships. `adoption` is the share of
the accounts that posted any usage event in the same range and organization.

Events are counted exactly, once per event id, by `uniqExact` of the id's full 64-bit hash
(`sql.EVENT_KEY`; duplicate deliveries of an event share its id, organization and name). Counting every id
of a month live costs more than the query may take, so the days that are clean (`analytics.rollup`: rolled
up after their last change) come from the stored exact counts of `usage_daily`, a few rows per day, and
only the other days (usually today, and a day that just received late events) are counted live from
`usage_events`, per organization and name, then summed per name. An event whose retried copies carry
timestamps on different UTC days (a retry around midnight) is in the counts of each day; the rollup records
such events (`usage_repeats`) and the extra days are subtracted, so the count equals counting the ids of the
whole range at once, except for a copy on a day not rolled up since it arrived (see `analytics.rollup`).

Accounts are counted from `usage_accounts` (per organization, name, account and month, a mask of the days
with an event): an account counts for a name when one of its rows has a day of the range, so no rollup is
needed and duplicates cannot count twice. Accounts are counted by a 64-bit hash of the account
(`ACCOUNT_KEY`): half the cost of sets of strings; two accounts share a hash with probability 2^-64 per
pair (about 3 in 10 billion among 100 000 accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from analytics import rollup
from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.errors import QueryError
from analytics.queries.sql import EVENT_KEY, Executor, date_literal, quote, run

MAX_NAMES = 1000
ACCOUNT_KEY = "cityHash64(account)"


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
    org_filter = "" if org is None else f" AND organization = {quote(org)}"
    counts = _event_counts(engine, span, org_filter)
    names, total = _accounts(engine, span, org_filter)
    # Two statements: an insert between them may show a name in one only.
    ranked = sorted(
        ((name, counts.get(name, 0), names.get(name, 0)) for name in counts.keys() | names.keys()), key=_rank
    )
    usage = [
        EventUsage(name, count, accounts, accounts / total if total else 0.0)
        for name, count, accounts in ranked[:limit]
    ]
    return TopEvents(org, span.start, span.end, total, usage)


def _event_counts(engine: Executor, span: params.DateRange, org_filter: str) -> dict[str, int]:
    """Distinct events per name: stored counts of the clean days, live counts of the others."""
    clean = rollup.clean_days(engine, span.start, span.end)
    parts = []
    if clean:
        # The newest row of each key (see `analytics.rollup` on why not only the latest rollup's rows).
        parts.append(
            "SELECT name, toInt64(argMax(events, version)) AS n FROM usage_daily"
            f" WHERE {rollup.days_in(clean)}{org_filter} GROUP BY day, organization, name"
        )
    live = sorted(set(span.days()) - set(clean))
    if live:
        # The days listed: `usage_events` is sorted by organization and day, so only they are read.
        parts.append(
            f"SELECT name, toInt64(uniqExact({EVENT_KEY})) AS n FROM usage_events"
            f" WHERE {rollup.days_in(live)}{org_filter} GROUP BY organization, name"
        )
    if clean:
        # An event with copies on several days of the range counts once: less its clean days beyond one,
        # or all of them when the live days count it.
        on_live = f"countIf({rollup.days_in(live)}) > 0" if live else "0"
        parts.append(
            "SELECT name, -extra AS n FROM ("
            f" SELECT event, any(name) AS name, toInt64(uniqExactIf(day, {rollup.days_in(clean)})) + {on_live} - 1"
            f" AS extra FROM usage_repeats WHERE day >= {date_literal(span.start)} AND day < {date_literal(span.end)}"
            f"{org_filter} GROUP BY event) WHERE extra > 0"
        )
    if not parts:
        return {}
    rows = run(engine, f"SELECT name, sum(n) FROM ({' UNION ALL '.join(parts)}) GROUP BY name")
    return {str(name): int(count) for name, count in rows}


def _accounts(engine: Executor, span: params.DateRange, org_filter: str) -> tuple[dict[str, int], int]:
    """Distinct accounts per name, and over all names, with a usage event in the range."""
    months = []
    month = span.start.replace(day=1)
    while month < span.end:
        following = (month + timedelta(days=32)).replace(day=1)
        first, last = max(span.start, month), min(span.end, following) - timedelta(days=1)
        if first.day == 1 and last == following - timedelta(days=1):
            months.append(f"month = {date_literal(month)}")
        else:
            mask = ((1 << last.day) - 1) ^ ((1 << (first.day - 1)) - 1)
            months.append(
                f"(month = {date_literal(month)} AND bitAnd(finalizeAggregation(days), {mask}) != 0)"
            )
        month = following
    if not months:
        return {}, 0
    where = (
        f"month >= {date_literal(span.start.replace(day=1))} AND month < {date_literal(span.end)}"
        f" AND ({' OR '.join(months)}){org_filter}"
    )
    rows = run(
        engine,
        "SELECT groupArray((name, n)), uniqExactMerge(s) FROM ("
        f" SELECT name, uniqExact({ACCOUNT_KEY}) AS n, uniqExactState({ACCOUNT_KEY}) AS s"
        f" FROM usage_accounts WHERE {where} GROUP BY name)",
    )
    if not rows:
        return {}, 0
    return {str(name): int(n) for name, n in rows[0][0]}, int(rows[0][1])


def _rank(usage: tuple[str, int, int]) -> tuple[int, str]:
    """Most events first, then by name (byte order, as ClickHouse sorts)."""
    return -usage[1], usage[0]
