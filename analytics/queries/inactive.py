"""Last activity and inactive accounts.

An account is inactive for N days when its last activity (a day set in `account_activity`, UTC) is at
least N days before today, or when it was never active and was created at least N days ago. Days are
whole UTC days: an account last active on day D becomes inactive for N days at 00:00 UTC on day D + N.
Organization filters use membership from the directory. Someone an organization invited who has not joined
yet counts, in its list, from the invitation as if they had joined then: activity before the day of the
invitation is not the organization's (`last_seen` is None), and they are inactive once it is N days old.

Last activity is the highest day bit of an account's latest month in `account_activity` (sorted by
account, a few bytes per account and month). The lists come back packed in one row (see
`analytics.queries.sql`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from analytics.directory import AccountDirectory, AccountRef
from analytics.queries import params
from analytics.queries.days import MASK, MONTH, highbit, month_filter, month_start
from analytics.queries.listing import LazyAccounts
from analytics.queries.sql import (
    Executor,
    day_number,
    from_day_number,
    member_chunks,
    member_condition,
    packed_numbers,
    packed_strings,
    run,
    unpack_numbers,
    unpack_strings,
)


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
class LastActivity:
    last: date
    last_before: date | None
    """Last active day on or before the `before` day given to `last_activity`."""


def _days_until(until: date) -> str:
    """The mask without the days after `until` (rows of later months are not read)."""
    return f"if({MONTH} = {day_number(month_start(until))}, bitAnd({MASK}, {(1 << until.day) - 1}), {MASK})"


def _last_day(mask: str) -> str:
    """The last day (a day number) of a non-zero `mask` of the row's month."""
    return f"toUInt16({MONTH} + {highbit(mask)})"


def per_account(condition: str, until: date, columns: str) -> str:
    """`account` and `last` (last active day up to `until`) per account, plus `columns`."""
    capped = _days_until(until)
    return (
        f"SELECT account, max({_last_day(capped)}) AS last{columns} FROM account_activity"
        f" WHERE {month_filter(condition, None, until)} AND {capped} != 0 GROUP BY account"
    )


def last_activity(
    engine: Executor, subs: Sequence[str] | None, until: date, before: date | None = None
) -> dict[str, LastActivity]:
    """Last active day up to `until` (included) per account, for `subs` or every account."""
    if subs is not None and not subs:
        return {}
    cutoff = before or until
    # `k` without the days after `cutoff`; the last of its days plus one, 0 when none is left.
    capped = f"if({MONTH} > {day_number(cutoff)}, 0, {_days_until(cutoff)})"
    before_column = f", max(if({capped} = 0, 0, {_last_day(capped)} + 1)) AS last_before"
    found: dict[str, LastActivity] = {}
    for chunk in member_chunks(subs):
        statement = (
            f"SELECT {packed_strings('groupArray(account)')}, {packed_numbers('groupArray(last)')},"
            f" {packed_numbers('groupArray(last_before)')}"
            f" FROM ({per_account(member_condition(chunk), until, before_column)})"
        )
        for accounts, lasts, befores in run(engine, statement):
            for account, last, last_before in zip(
                unpack_strings(accounts), unpack_numbers(lasts), unpack_numbers(befores), strict=True
            ):
                found[account] = LastActivity(
                    from_day_number(last), from_day_number(last_before - 1) if last_before else None
                )
    return found


class InactiveAccounts(LazyAccounts[InactiveAccount]):
    """The inactive accounts, longest inactive first, with their details read from the directory as the
    items are: a page of a report over every account reads the details of that page only.
    """

    def __init__(
        self,
        directory: AccountDirectory,
        order: list[str],
        since: dict[str, int],
        seen: dict[str, int],
        today_number: int,
        known: dict[str, AccountRef],
    ) -> None:
        super().__init__(order)
        self._directory = directory
        self._since = since
        self._seen = seen
        self._today = today_number
        self._known = known

    def select(self, subs: Sequence[str]) -> list[InactiveAccount]:
        """The accounts among these subs (in this order) that are in the list."""
        return self._build([sub for sub in subs if sub in self._since])

    def _build(self, subs: list[str]) -> list[InactiveAccount]:
        missing = [sub for sub in subs if sub not in self._known]
        refs = self._directory.lookup(missing) if missing else {}
        accounts = []
        for sub in subs:
            ref = self._known.get(sub) or refs.get(sub)
            if ref is None:  # gone from the directory since the report was made
                continue
            seen = self._seen.get(sub)
            last_seen = None if seen is None else from_day_number(seen)
            accounts.append(InactiveAccount(sub, ref.email, ref.name, ref.organizations, ref.created_at, last_seen,
                                            self._today - self._since[sub]))
        return accounts



def inactive_accounts(
    engine: Executor,
    directory: AccountDirectory,
    days: int,
    now: datetime,
    organization: str | None = None,
) -> InactiveAccounts:
    """Accounts with no activity for `days` or more, longest inactive first."""
    params.threshold("days", days)
    org = params.organization(directory, organization)
    today = params.today(now)
    # Never active accounts count once created on or before this day.
    created_cutoff = today - timedelta(days=days)
    split = datetime.combine(created_cutoff + timedelta(days=1), time.min, UTC)
    cutoff = day_number(today) - days
    quiet: dict[str, int] = {}
    recent: list[str] = []

    def read(subs: Sequence[str] | None) -> None:
        for chunk in member_chunks(subs):
            statement = (
                f"SELECT {packed_strings(f'groupArrayIf(account, last <= {cutoff})')},"
                f" {packed_numbers(f'groupArrayIf(last, last <= {cutoff})')},"
                f" {packed_strings(f'groupArrayIf(account, last > {cutoff})')}"
                f" FROM ({per_account(member_condition(chunk), today, '')})"
            )
            for accounts, lasts, others in run(engine, statement):
                quiet.update(zip(unpack_strings(accounts), unpack_numbers(lasts), strict=True))
                recent.extend(unpack_strings(others))

    if org is None:
        # Every account's activity does not depend on the directory: both are read at once.
        with ThreadPoolExecutor(max_workers=1) as pool:
            reading = pool.submit(read, None)
            roster = directory.roster(None, split)
            reading.result()
    else:
        roster = directory.roster(org, split)
        read(roster.subs)
    # Someone invited who has not joined yet is seen from the day of the invitation on: last active before it
    # is never active since (still active after the cutoff, they are not inactive either way).
    invited = {sub: day_number(params.today(at)) for sub, at in roster.invited.items()}
    for sub, day in invited.items():
        if quiet.get(sub, day) < day:
            del quiet[sub]
    # The day inactivity counts from: the last active day, or the creation (invitation) day of never active
    # accounts. Activity of accounts the directory does not hold is left out.
    active = set(recent)
    active.update(quiet)
    unseen = [sub for sub in roster.subs if sub not in active]
    if len(roster.subs) - len(unseen) == len(active):  # every active account is in the directory
        since = dict(quiet)
    else:
        scope = set(roster.subs)
        since = {sub: last for sub, last in quiet.items() if sub in scope}
    never = set(unseen).difference(roster.newer)
    known = directory.lookup(sorted(never)) if never else {}
    for sub, ref in known.items():
        since[sub] = invited[sub] if sub in invited else day_number(params.created_day(ref))
    # Longest inactive first, then by sub: the subs of each day sorted, days in order (a few hundred
    # distinct days: sorting each day's subs costs less than sorting them all by a composite key).
    by_day: dict[int, list[str]] = {}
    for sub, last in since.items():
        found = by_day.get(last)
        if found is None:
            by_day[last] = [sub]
        else:
            found.append(sub)
    order: list[str] = []
    for day in sorted(by_day):
        subs = by_day[day]
        subs.sort()
        order.extend(subs)
    return InactiveAccounts(directory, order, since, quiet, day_number(today), known)
