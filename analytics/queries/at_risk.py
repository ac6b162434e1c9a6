"""Accounts at risk: each account's state and score by its own rhythm (`analytics.queries.risk`).

`score_accounts` scores every account last active less than `within` days ago (default: the model's
`inactive_days`; accounts silent longer are `inactive` by the fixed threshold, which needs no rhythm): each
one's state is computed in ClickHouse (`analytics.queries.scoring`), its full `Assessment` only when asked for.
`at_risk_accounts` lists those `going_quiet` or `slowing`, highest score first, with their details read from
the directory as the items are taken; accounts past the fixed threshold are the inactive-accounts list's.
`account_assessment` assesses one account, whatever its silence. Accounts never active have no rhythm and
are not listed. Organization filters use membership from the directory: its members, not the people it
invited who have not joined yet (their rhythm is not the organization's), as `account.going_quiet` rules do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.listing import LazyAccounts
from analytics.queries.rhythm import ChurnModel, Rhythm
from analytics.queries.risk import Assessment, State
from analytics.queries.scoring import AT_RISK_CODES, ScoredAccounts, read_scores
from analytics.queries.sql import Executor

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
    engine: Executor, subs: Sequence[str] | None, today: date, model: ChurnModel, within: int | None = None,
    codes: Collection[int] | None = None,
) -> ScoredAccounts:
    """Every account among `subs` (all when None) last active less than `within` days before `today`, with
    its state computed in ClickHouse (`analytics.queries.scoring`); only those of `codes` when given."""
    since = today - timedelta(days=within or model.inactive_days)
    return read_scores(engine, subs, today, model, since, codes)


class AtRiskAccounts(LazyAccounts[AtRiskAccount]):
    """At-risk accounts in order, their details read from the directory as the items are taken."""

    def __init__(self, directory: AccountDirectory, order: list[str], found: ScoredAccounts) -> None:
        super().__init__(order)
        self._directory = directory
        self._found = found

    def _build(self, subs: list[str]) -> list[AtRiskAccount]:
        refs = self._directory.lookup(subs) if subs else {}
        return [AtRiskAccount(sub, ref.email, ref.name, ref.organizations, self._found.last(sub), self._found[sub])
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
    scope = directory.roster(None, now).subs if org is None else directory.members(org)
    # Only the accounts at risk come back from ClickHouse; they alone are assessed in Python, for their score.
    found = score_accounts(engine, scope if org is not None else None, today, model, codes=AT_RISK_CODES)
    members = set(scope)
    risky = [(-found[sub].score, sub) for sub, _ in found.codes() if sub in members]
    risky.sort()
    return AtRiskAccounts(directory, [sub for _, sub in risky], found)


def account_assessment(engine: Executor, sub: str, now: datetime, model: ChurnModel | None = None
                       ) -> tuple[Assessment, date] | None:
    """One account's assessment and last active day; None when it was never active."""
    model = model or ChurnModel()
    today = params.today(now)
    found = score_accounts(engine, [sub], today, model, within=36500)
    if sub not in found:
        return None
    return found[sub], found.last(sub)
