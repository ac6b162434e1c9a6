"""Organizations: seat uptake and the share of members active this week against the four weeks before.

- **Seat uptake**: members who ever signed in (a `signin.succeeded` event the provider recorded, kept in
  `events`) / members. Members are those who joined: not the people invited who have not joined yet.
- **Weekly share**: members active in a week / members. This week is the 7 UTC days ending today; the trailing
  share is the mean of the shares of the four 7-day weeks before it. Activity is read from the monthly day
  masks (`account_activity`), one row per member and week flag set.
- **Declining**: the trailing share is above zero and this week's share is at most `1 - decline_fraction` of
  it (`decline_fraction` 0.3: down by 30 % or more).

`engagement_by_organization` answers for every organization the directory's accounts belong to at once (one
read of every account's weeks and sign-ins, summed per organization in Python): what an
`organization.declining` rule over every organization asks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from analytics import provider_events
from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.days import MASK, MONTH, day_range_bits, month_filter
from analytics.queries.errors import QueryError
from analytics.queries.sql import (
    Executor,
    member_chunks,
    member_condition,
    packed_numbers,
    packed_strings,
    quote,
    run,
    unpack_numbers,
    unpack_strings,
)

WEEKS = 5
"""This week and the four before it."""
DEFAULT_DECLINE_FRACTION = 0.3


@dataclass(frozen=True, slots=True)
class OrganizationEngagement:
    organization: str
    members: int
    signed_in: int
    """Members who ever signed in."""
    seat_uptake: float | None
    """signed_in / members; None without members."""
    active_this_week: int
    share_this_week: float | None
    trailing_share: float | None
    """Mean share of the four weeks before this one."""
    change: float | None
    """share_this_week / trailing_share - 1; None when the trailing share is zero."""
    declining: bool
    decline_fraction: float


def check_fraction(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise QueryError("decline_fraction", "must be a number between 0 and 1")
    return float(value)


def week_flags(engine: Executor, subs: Sequence[str] | None, today: date) -> dict[str, int]:
    """Per account active in the last five weeks, bit w set when it was active in week w (0: the 7 days ending
    today, 1: the 7 days before, ...)."""
    since = today - timedelta(days=7 * WEEKS - 1)
    flags: dict[str, int] = {}
    for chunk in member_chunks(subs):
        weeks = [
            f"bitShiftLeft(toUInt8(max(bitAnd({MASK}, "
            f"{day_range_bits(MONTH, today - timedelta(days=7 * w + 6), today - timedelta(days=7 * w))}) != 0)), {w})"
            for w in range(WEEKS)
        ]
        inner = (f"SELECT account, {' + '.join(weeks)} AS f FROM account_activity"
                 f" WHERE {month_filter(member_condition(chunk), since, today)} GROUP BY account")
        statement = (f"SELECT {packed_strings('groupArrayIf(account, f != 0)')},"
                     f" {packed_numbers('groupArrayIf(f, f != 0)')} FROM ({inner})")
        for accounts, values in run(engine, statement):
            flags.update(zip(unpack_strings(accounts), unpack_numbers(values), strict=True))
    return flags


def signed_in(engine: Executor, subs: Sequence[str] | None, now: datetime) -> set[str]:
    """The accounts among `subs` (all when None) with a successful sign-in up to `now`."""
    found: set[str] = set()
    for chunk in member_chunks(subs):
        statement = (
            f"SELECT {packed_strings('groupUniqArray(account)')} FROM events"
            f" WHERE {member_condition(chunk)} AND name = {quote(provider_events.SIGNIN_SUCCEEDED)} AND source = 'idp'"
            f" AND timestamp <= toDateTime({int(now.timestamp())})"
        )
        for (accounts,) in run(engine, statement):
            found.update(unpack_strings(accounts))
    return found


def _summarise(organization: str, members: Sequence[str], flags: dict[str, int], signed: set[str],
               fraction: float) -> OrganizationEngagement:
    count = len(members)
    weekly = [0] * WEEKS
    for sub in members:
        value = flags.get(sub, 0)
        for w in range(WEEKS):
            weekly[w] += value >> w & 1
    uptake = sum(1 for sub in members if sub in signed)
    share = weekly[0] / count if count else None
    trailing = sum(weekly[1:]) / (WEEKS - 1) / count if count else None
    change = share / trailing - 1 if share is not None and trailing else None
    declining = change is not None and change <= -fraction
    return OrganizationEngagement(organization, count, uptake, uptake / count if count else None, weekly[0], share,
                                  trailing, change, declining, fraction)


def organization_engagement(engine: Executor, directory: AccountDirectory, organization: str, now: datetime,
                            decline_fraction: float = DEFAULT_DECLINE_FRACTION) -> OrganizationEngagement:
    fraction = check_fraction(decline_fraction)
    if organization is None:
        raise QueryError("organization", "is required")
    org = params.organization(directory, organization)
    assert org is not None
    members = directory.members(org)
    today = params.today(now)
    flags = week_flags(engine, members, today) if members else {}
    signed = signed_in(engine, members, now) if members else set()
    return _summarise(org, members, flags, signed, fraction)


def engagement_by_organization(engine: Executor, directory: AccountDirectory, now: datetime,
                               decline_fraction: float = DEFAULT_DECLINE_FRACTION
                               ) -> dict[str, OrganizationEngagement]:
    """Every organization with members, by id."""
    fraction = check_fraction(decline_fraction)
    members: dict[str, list[str]] = defaultdict(list)
    for ref in directory.accounts():
        invited = dict(ref.invitations)
        for org in ref.organizations:
            if org not in invited:
                members[org].append(ref.sub)
    if not members:
        return {}
    today = params.today(now)
    flags = week_flags(engine, None, today)
    signed = signed_in(engine, None, now)
    return {org: _summarise(org, subs, flags, signed, fraction) for org, subs in sorted(members.items())}
