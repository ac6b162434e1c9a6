"""Accounts at risk: each account's state and score by its own rhythm (`analytics.queries.risk`).

`score_accounts` assesses every account last active less than `within` days ago (default: the model's
`inactive_days`; accounts silent longer are `inactive` by the fixed threshold, which needs no rhythm).
`at_risk_accounts` lists those `going_quiet` or `slowing`, highest score first, with their details read from
the directory as the items are taken; accounts past the fixed threshold are the inactive-accounts list's.
`account_assessment` assesses one account, whatever its silence. Accounts never active have no rhythm and
are not listed. Organization filters use membership from the directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.listing import LazyAccounts
from analytics.queries.rhythm import ChurnModel, Rhythm
from analytics.queries.risk import Assessment, State, assess
from analytics.queries.sql import Executor
from analytics.queries.windows import read_windows

AT_RISK: tuple[State, ...] = ("going_quiet", "slowing")


@dataclass(frozen=True, slots=True)
class AtRiskAccount:
    sub: str
    email: str | None
    name: str | None
    organizations: tuple[str, ...]
    last_seen: date
    assessment: Assessment

    @property
    def state(self) -> State:
        return self.assessment.state

    @property
    def score(self) -> float:
        return self.assessment.score

    @property
    def explanation(self) -> str:
        return self.assessment.explanation

    @property
    def rhythm(self) -> Rhythm | None:
        return self.assessment.rhythm


def score_accounts(
    engine: Executor, subs: Sequence[str] | None, today: date, model: ChurnModel, within: int | None = None
) -> tuple[dict[str, Assessment], dict[str, date]]:
    """The assessment and last active day of every account among `subs` (all when None) last active less
    than `within` days before `today`."""
    start = model.start(today)
    since = today - timedelta(days=within or model.inactive_days)
    windows = read_windows(engine, subs, start, today, since)
    bits = windows.bits
    found = {sub: assess(bits[sub], start, today, last, model) for sub, last in windows.last.items()}
    return found, windows.last


class AtRiskAccounts(LazyAccounts[AtRiskAccount]):
    """At-risk accounts in order, their details read from the directory as the items are taken."""

    def __init__(self, directory: AccountDirectory, order: list[str], found: dict[str, Assessment],
                 last: dict[str, date]) -> None:
        super().__init__(order)
        self._directory = directory
        self._found = found
        self._last = last

    def _build(self, subs: list[str]) -> list[AtRiskAccount]:
        refs = self._directory.lookup(subs) if subs else {}
        return [AtRiskAccount(sub, ref.email, ref.name, ref.organizations, self._last[sub], self._found[sub])
                for sub in subs if (ref := refs.get(sub)) is not None]


def at_risk_accounts(
    engine: Executor,
    directory: AccountDirectory,
    now: datetime,
    model: ChurnModel | None = None,
    organization: str | None = None,
) -> AtRiskAccounts:
    """Accounts `going_quiet` or `slowing`, highest score first (then by sub)."""
    model = model or ChurnModel()
    org = params.organization(directory, organization)
    today = params.today(now)
    scope = directory.roster(org, now).subs
    found, last = score_accounts(engine, scope if org is not None else None, today, model)
    members = set(scope)
    risky = [(-a.score, sub) for sub, a in found.items() if a.state in AT_RISK and sub in members]
    risky.sort()
    return AtRiskAccounts(directory, [sub for _, sub in risky], found, last)


def account_assessment(engine: Executor, sub: str, now: datetime, model: ChurnModel | None = None
                       ) -> tuple[Assessment, date] | None:
    """One account's assessment and last active day; None when it was never active."""
    model = model or ChurnModel()
    today = params.today(now)
    found, last = score_accounts(engine, [sub], today, model, within=36500)
    if sub not in found:
        return None
    return found[sub], last[sub]
