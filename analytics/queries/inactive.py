"""Inactive accounts and organization health.

An account is inactive for N days when its last activity (a `daily_activity` day, UTC) is at least N
days before today, or when it was never active and was created at least N days ago. Days are whole UTC
days: an account last active on day D becomes inactive for N days at 00:00 UTC on day D + N.
Organization filters use membership from the directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from analytics.directory import AccountDirectory, AccountRef
from analytics.queries import params
from analytics.queries.errors import QueryError
from analytics.queries.sql import Executor, account_chunks, date_literal, from_day_number, run


@dataclass(frozen=True, slots=True)
class InactiveAccount:
    sub: str
    email: str | None
    name: str | None
    organizations: tuple[str, ...]
    created_at: datetime
    last_seen: date | None
    """Last active day, None when never active."""
    inactive_days: int


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


@dataclass(frozen=True, slots=True)
class LastActivity:
    last: date
    last_before: date | None
    """Last active day on or before the `before` day given to `last_activity`."""


def last_activity(
    engine: Executor, subs: Sequence[str] | None, until: date, before: date | None = None
) -> dict[str, LastActivity]:
    """Last active day up to `until` (included) per account, for `subs` or every account."""
    if subs is not None and not subs:
        return {}
    cutoff = before or until
    found: dict[str, LastActivity] = {}
    for condition in account_chunks(subs):
        statement = (
            "SELECT account, toUInt16(max(day)), toUInt16(maxIf(day, day <= "
            f"{date_literal(cutoff)})), countIf(day <= {date_literal(cutoff)}) FROM daily_activity"
            f" WHERE day <= {date_literal(until)} AND {condition} GROUP BY account"
        )
        for account, last, last_before, count_before in run(engine, statement):
            found[str(account)] = LastActivity(
                from_day_number(last), from_day_number(last_before) if int(count_before) else None
            )
    return found


def _inactive_days(ref: AccountRef, seen: LastActivity | None, today: date) -> int:
    if seen is not None:
        return (today - seen.last).days
    return (today - params.created_day(ref)).days


def inactive_accounts(
    engine: Executor,
    directory: AccountDirectory,
    days: int,
    now: datetime,
    organization: str | None = None,
) -> list[InactiveAccount]:
    """Accounts with no activity for `days` or more, longest inactive first."""
    params.threshold("days", days)
    org = params.organization(directory, organization)
    today = params.today(now)
    refs = directory.accounts(org)
    seen = last_activity(engine, None if org is None else [ref.sub for ref in refs], today)
    found = []
    for ref in refs:
        activity = seen.get(ref.sub)
        idle = _inactive_days(ref, activity, today)
        if idle >= days:
            found.append(
                InactiveAccount(
                    ref.sub,
                    ref.email,
                    ref.name,
                    ref.organizations,
                    ref.created_at,
                    None if activity is None else activity.last,
                    idle,
                )
            )
    found.sort(key=lambda account: (-account.inactive_days, account.sub))
    return found


def organization_health(
    engine: Executor, directory: AccountDirectory, organization: str, now: datetime
) -> OrganizationHealth:
    if organization is None:
        raise QueryError("organization", "is required")
    org = params.organization(directory, organization)
    assert org is not None
    today = params.today(now)
    refs = directory.accounts(org)
    previous_end = today - timedelta(days=30)
    seen = last_activity(engine, [ref.sub for ref in refs], today, before=previous_end)
    active_7d = active_30d = previous = inactive = 0
    for ref in refs:
        activity = seen.get(ref.sub)
        if activity is not None:
            active_7d += activity.last > today - timedelta(days=7)
            active_30d += activity.last > previous_end
            previous += activity.last_before is not None and activity.last_before > today - timedelta(days=60)
        inactive += _inactive_days(ref, activity, today) >= 30
    return OrganizationHealth(
        org,
        len(refs),
        active_7d,
        active_30d,
        inactive,
        previous,
        active_30d - previous,
        active_30d / previous - 1 if previous else None,
    )
