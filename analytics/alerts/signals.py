"""Detection for `account.going_quiet` and `organization.declining` rules, with the guarantees of
`analytics.alerts.detector`: a transition moves the state by compare-and-set and enqueues its deliveries in
the rule's one transaction, so it is notified exactly once across reruns, restarts and concurrent runners.

- `account.going_quiet`: an account is quiet when `analytics.queries.assess` finds it silent beyond its
  rhythm, or, with too little history for a rhythm, silent for the rule's `threshold_days`. Accounts are
  judged while their silence is at most `horizon` days (the longest any rhythm or the threshold can take):
  one silent longer went quiet before and is not reported afresh by a new rule. A notified account is
  `account.reactivated` once it is active again after the notification and no longer quiet (its rhythm
  moving as the days pass does not count as coming back).
- `organization.declining`: an organization (the rule's, or every organization with members) is declining
  per `analytics.queries.organization_engagement`; `organization.recovered` when it no longer is. The state
  row's `account` holds the organization's id.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.alerts.models import AccountAlertState, AlertRule
from analytics.directory import AccountDirectory
from analytics.queries import (
    Assessment,
    ChurnModel,
    Executor,
    OrganizationEngagement,
    ScoredAccounts,
    engagement_by_organization,
    organization_engagement,
    score_accounts,
)
from analytics.queries.params import today as utc_day

Enqueue = Callable[[Session, AlertRule, str, str, str, datetime], int]
Mark = Callable[[Session, int, str, str, bool, datetime], bool]


def horizon(rule: AlertRule, model: ChurnModel) -> int:
    """Days of silence up to which accounts are judged (a rhythm's weekdays are at most 7/5 as many days)."""
    return max(rule.threshold_days, math.ceil(model.max_quiet_days * 7 / 5)) + 1


def _body(type_: str, now: datetime, rule: AlertRule, data: dict[str, Any]) -> str:
    data = {**data, "rule_id": rule.id, "rule_name": rule.name, "rule_kind": rule.kind}
    return json.dumps({"type": type_, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data},
                      separators=(",", ":"))


def _account_data(rule: AlertRule, sub: str, refs: dict[str, Any], verdict: Assessment, last: date) -> dict[str, Any]:
    ref = refs.get(sub)
    rhythm = verdict.rhythm
    return {
        "account": sub,
        "email": None if ref is None else ref.email,
        "name": None if ref is None else ref.name,
        "organization": rule.organization,
        "organizations": [] if ref is None else list(ref.organizations),
        "last_seen": last.isoformat(),
        "inactive_days": verdict.silent_days,
        "threshold_days": rule.threshold_days,
        "state": verdict.state,
        "score": verdict.score,
        "explanation": verdict.explanation,
        "usual_gap": None if rhythm is None else rhythm.usual_gap,
        "quiet_after": None if rhythm is None else rhythm.quiet_after,
        "weekdays_only": None if rhythm is None else rhythm.weekdays_only,
    }


MANY_STATES = 5000
"""More accounts that may have come back than this: their notification times are read with all the rule's."""


def _notified_at(session: Session, rule_id: int, accounts: list[str]) -> list[tuple[str, datetime]]:
    """When each of these accounts' state last changed: a few by their keys, many with all the rule's states."""
    query = select(AccountAlertState.account, AccountAlertState.changed_at)
    if len(accounts) > MANY_STATES:
        wanted = set(accounts)
        rows = session.execute(query.where(AccountAlertState.rule_id == rule_id)).tuples()
        return [(account, changed_at) for account, changed_at in rows if account in wanted]
    found: list[tuple[str, datetime]] = []
    for start in range(0, len(accounts), 500):
        found.extend(session.execute(query.where(
            AccountAlertState.rule_id == rule_id, AccountAlertState.account.in_(accounts[start:start + 500]))
        ).tuples())
    return found


Scores = dict[tuple[str | None, int], ScoredAccounts]
"""Scores of one detection run by (organization, horizon): rules of the same scope score once."""


def detect_going_quiet(session: Session, engine: Executor, directory: AccountDirectory, rule: AlertRule,
                       now: datetime, model: ChurnModel, enqueue: Enqueue, mark: Mark,
                       scores: Scores | None = None) -> list[tuple[str, str, int]]:
    """(account, event type, deliveries) of every transition of the rule."""
    today = utc_day(now)
    key = (rule.organization, horizon(rule, model))
    if scores is not None and key in scores:
        found = scores[key]
    else:
        scope = None if rule.organization is None else directory.members(rule.organization)
        found = score_accounts(engine, scope, today, model, within=key[1])
        if scores is not None:
            scores[key] = found
    # Plain rows, not entities: a rule over every account holds tens of thousands of states. When each was
    # notified is read only for the accounts that may have come back.
    states = {account: state for account, state in session.execute(
        select(AccountAlertState.account, AccountAlertState.state).where(AccountAlertState.rule_id == rule.id))}
    # Silent for the threshold, in days, when the account has no rhythm: last active on this day or before.
    cutoff = today - timedelta(days=rule.threshold_days)

    crossing = []
    maybe_back: dict[str, date] = {}
    for sub, rhythm, beyond, last in found.flags():
        # Quiet: silent beyond its rhythm (`Assessment.quiet`), or with no rhythm, silent for the threshold.
        quiet = beyond or (not rhythm and last <= cutoff)
        known = states.get(sub)
        if known is None or known == "active":
            if quiet:
                crossing.append(sub)
        elif not quiet:
            maybe_back[sub] = last
    # Back: active again on or after the day it was notified (its rhythm moving as days pass is not coming back).
    returning = [sub for sub, changed_at in _notified_at(session, rule.id, list(maybe_back))
                 if maybe_back[sub] >= utc_day(changed_at)]
    refs = directory.lookup(sorted(crossing + returning)) if crossing or returning else {}
    transitions = []
    for sub in sorted(crossing):
        if sub in refs and mark(session, rule.id, sub, "inactive", sub in states, now):
            data = _account_data(rule, sub, refs, found[sub], found.last(sub))
            body = _body("account.going_quiet", now, rule, data)
            transitions.append((sub, "account.going_quiet", enqueue(session, rule, "account.going_quiet", sub, body,
                                                                     now)))
    for sub in sorted(returning):
        if sub in refs and mark(session, rule.id, sub, "active", True, now):
            data = _account_data(rule, sub, refs, found[sub], found.last(sub))
            body = _body("account.reactivated", now, rule, data)
            transitions.append((sub, "account.reactivated", enqueue(session, rule, "account.reactivated", sub, body,
                                                                     now)))
    return transitions


def _organization_data(rule: AlertRule, found: OrganizationEngagement) -> dict[str, Any]:
    share, trailing = found.share_this_week, found.trailing_share
    explanation = (f"{found.active_this_week} of {found.members} members active this week "
                   f"({round(100 * (share or 0))} %) against {round(100 * (trailing or 0))} % in the four weeks before")
    return {
        "account": found.organization,  # what every notification names, e-mail subjects included
        "organization": found.organization,
        "members": found.members,
        "signed_in": found.signed_in,
        "seat_uptake": found.seat_uptake,
        "active_this_week": found.active_this_week,
        "share_this_week": share,
        "trailing_share": trailing,
        "change": found.change,
        "decline_fraction": found.decline_fraction,
        "explanation": explanation,
    }


def detect_declining(session: Session, engine: Executor, directory: AccountDirectory, rule: AlertRule,
                     now: datetime, decline_fraction: float, enqueue: Enqueue, mark: Mark
                     ) -> list[tuple[str, str, int]]:
    if rule.organization is not None:
        found = {rule.organization: organization_engagement(engine, directory, rule.organization, now,
                                                            decline_fraction)}
    else:
        found = engagement_by_organization(engine, directory, now, decline_fraction)
    states = {s.account: s.state for s in session.scalars(select(AccountAlertState)
                                                          .where(AccountAlertState.rule_id == rule.id))}
    transitions = []
    for org, engagement in sorted(found.items()):
        was = states.get(org, "active")
        if engagement.declining and was == "active":
            type_, state = "organization.declining", "inactive"
        elif not engagement.declining and was == "inactive":
            type_, state = "organization.recovered", "active"
        else:
            continue
        if mark(session, rule.id, org, state, org in states, now):
            body = _body(type_, now, rule, _organization_data(rule, engagement))
            transitions.append((org, type_, enqueue(session, rule, type_, org, body, now)))
    return transitions

