"""Organization health: how many members were active lately, how many went quiet, and the trend.

Counted in ClickHouse from each member's last active day (`analytics.queries.inactive.per_account`) and comes
back as one row. Members created in the last 30 days who were never active are not counted as inactive yet.
Someone the organization invited who has not joined yet counts as a member who joined at the invitation, as in
the inactive list: only their activity from the day of the invitation on is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.days import MASK, MONTH, day_range_bits
from analytics.queries.errors import QueryError
from analytics.queries.inactive import last_activity, per_account
from analytics.queries.sql import Executor, day_number, in_list, member_chunks, member_condition, run


@dataclass(frozen=True, slots=True)
class OrganizationHealth:
    organization: str
    members: int
    active_7d: int
    active_30d: int
    inactive: int
    """Members with no activity for 30 days or more (never-active members created 30+ days ago count)."""
    previous_active_30d: int
    """Members active in the 30 days before the last 30."""
    trend: int
    """active_30d - previous_active_30d."""
    trend_ratio: float | None
    """active_30d / previous_active_30d - 1, None when nobody was active before."""


def organization_health(
    engine: Executor, directory: AccountDirectory, organization: str, now: datetime
) -> OrganizationHealth:
    if organization is None:
        raise QueryError("organization", "is required")
    org = params.organization(directory, organization)
    assert org is not None
    today = params.today(now)
    # Members created in the last 30 days (UTC days) are young: never active, they are not inactive yet.
    roster = directory.roster(org, datetime.combine(today - timedelta(days=29), time.min, UTC))
    members = roster.subs
    young = set(roster.newer)
    previous = day_range_bits(MONTH, today - timedelta(days=59), today - timedelta(days=30))
    active_7d = active_30d = previous_30d = quiet = active = active_young = 0
    joined = [sub for sub in members if sub not in roster.invited] if roster.invited else members
    for chunk in member_chunks(joined):
        assert chunk is not None
        chunk_young = [sub for sub in chunk if sub in young]
        is_young = in_list("account", chunk_young) if chunk_young else "0"
        was_active = f", max(bitAnd({MASK}, {previous}) != 0) AS was_active"
        members_sql = per_account(member_condition(chunk), today, was_active)
        statement = (
            f"SELECT countIf(last > {day_number(today) - 7}), countIf(last > {day_number(today) - 30}),"
            f" countIf(was_active), countIf(last <= {day_number(today) - 30}), count(), countIf({is_young})"
            f" FROM ({members_sql})"
        )
        for row in run(engine, statement):
            counts = [int(value) for value in row]
            active_7d += counts[0]
            active_30d += counts[1]
            previous_30d += counts[2]
            quiet += counts[3]
            active += counts[4]
            active_young += counts[5]
    # Those invited, from the day of their invitation on; their activity before it is left out.
    seen = last_activity(engine, list(roster.invited), today, today - timedelta(days=30)) if roster.invited else {}
    for sub, at in roster.invited.items():
        since = params.today(at)
        activity = seen.get(sub)
        if activity is None or activity.last < since:
            continue  # never active since the invitation: counted below
        last, before = day_number(activity.last), activity.last_before
        active_7d += last > day_number(today) - 7
        active_30d += last > day_number(today) - 30
        previous_30d += before is not None and before >= max(since, today - timedelta(days=59))
        quiet += last <= day_number(today) - 30
        active += 1
        active_young += sub in young
    # Never active members count as inactive once created (invited) 30 days ago.
    inactive = quiet + (len(members) - len(young)) - (active - active_young)
    return OrganizationHealth(
        org,
        len(members),
        active_7d,
        active_30d,
        inactive,
        previous_30d,
        active_30d - previous_30d,
        active_30d / previous_30d - 1 if previous_30d else None,
    )
