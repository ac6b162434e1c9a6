"""Detection: compare what each enabled rule reports with the state last notified. `account.inactive` rules
are below; `account.going_quiet` and `organization.declining` rules are `analytics.alerts.signals`, with the
same guarantees.

- An account crossing active -> inactive (threshold reached, per `analytics.queries.inactive_accounts`,
  never-active accounts created `threshold_days` ago included) enqueues one `account.inactive`
  notification per channel.
- An account notified as inactive that is active again enqueues one `account.reactivated`.
- A new rule has no state: its first run reports every account already inactive, once, as Keycloak and
  Countly users expect. No row in `alert_account_states` means "active".
- The state change and its deliveries (or, for e-mail of a digest rule, its `alert_digest_items` row) commit in
  one transaction. State moves by compare-and-set
  (`UPDATE ... WHERE state = 'active'`, or an INSERT on the primary key), so two runners at once, a rerun
  or a restart never notify twice.
- Accounts that left the rule's organization or the directory keep their state and are not reported.
- A rule that cannot be run (stored around the checks of `analytics.alerts.rules`, a query that fails, any
  error) is logged and skipped: it rolls back its own work and never stops the other rules, nor the
  delivery that follows detection.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast, get_args

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analytics.alerts.errors import AlertConfigError
from analytics.alerts.models import AccountAlertState, AlertRule, Delivery, DigestItem, WebhookEndpoint
from analytics.alerts.rules import check_stored
from analytics.alerts.signals import Scores, detect_declining, detect_going_quiet
from analytics.directory import AccountDirectory, AccountRef
from analytics.queries import DEFAULT_DECLINE_FRACTION, ChurnModel, Executor, QueryError, inactive_accounts
from analytics.queries.inactive import InactiveAccount, last_activity
from analytics.queries.params import today

log = logging.getLogger(__name__)

EventType = Literal["account.inactive", "account.reactivated", "account.going_quiet", "organization.declining",
                    "organization.recovered"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)  # what a detection notifies, in one place


@dataclass(frozen=True, slots=True)
class Transition:
    rule_id: int
    account: str
    type: EventType
    inactive_days: int
    deliveries: int


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(16)


def payload(
    type_: EventType,
    now: datetime,
    rule: AlertRule,
    ref: AccountRef,
    last_seen: str | None,
    inactive_days: int,
) -> str:
    return json.dumps(
        {
            "type": type_,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {
                "account": ref.sub,
                "email": ref.email,
                "name": ref.name,
                "organization": rule.organization,
                "organizations": list(ref.organizations),
                "last_seen": last_seen,
                "inactive_days": inactive_days,
                "threshold_days": rule.threshold_days,
                "rule_id": rule.id,
                "rule_name": rule.name,
            },
        },
        separators=(",", ":"),
    )


def _enqueue(session: Session, rule: AlertRule, type_: str, account: str, body: str, now: datetime) -> int:
    endpoints = {
        endpoint.id: endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_([c.endpoint_id for c in rule.channels if c.endpoint_id is not None])
            )
        )
    }
    count = 0
    if rule.digest is not None and any(channel.email is not None for channel in rule.channels):
        # E-mail waits for the rule's digest (`analytics.alerts.digest`); webhooks go at once.
        session.add(DigestItem(rule_id=rule.id, event_type=type_, account=account, payload=body, created_at=now))
    for channel in rule.channels:
        if channel.email is not None and rule.digest is not None:
            continue
        if channel.endpoint_id is not None:
            endpoint = endpoints.get(channel.endpoint_id)
            if endpoint is None or endpoint.disabled_at is not None:
                continue
        session.add(
            Delivery(
                message_id=new_message_id(),
                rule_id=rule.id,
                endpoint_id=channel.endpoint_id,
                email=channel.email,
                event_type=type_,
                account=account,
                payload=body,
                attempts=0,
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )
        count += 1
    return count


def _mark(session: Session, rule_id: int, account: str, state: str, known: bool, now: datetime) -> bool:
    """Move the account to `state` unless another runner already did; True when this call moved it."""
    if not known:
        session.add(AccountAlertState(rule_id=rule_id, account=account, state=state, changed_at=now))
        session.flush()
        return True
    previous = "active" if state == "inactive" else "inactive"
    result = session.execute(
        update(AccountAlertState)
        .where(
            AccountAlertState.rule_id == rule_id,
            AccountAlertState.account == account,
            AccountAlertState.state == previous,
        )
        .values(state=state, changed_at=now)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def account_ref(account: InactiveAccount) -> AccountRef:
    return AccountRef(account.sub, account.email, account.name, account.created_at, account.organizations)


def _detect_rule(
    session: Session, engine: Executor, directory: AccountDirectory, rule: AlertRule, now: datetime,
    model: ChurnModel, decline_fraction: float, scores: Scores,
) -> list[Transition]:
    silence: dict[tuple[str, str], int] = {}

    def enqueue(session: Session, rule: AlertRule, type_: str, subject: str, body: str, now: datetime) -> int:
        days = json.loads(body)["data"].get("inactive_days")
        if isinstance(days, int):
            silence[subject, type_] = days
        return _enqueue(session, rule, type_, subject, body, now)

    if rule.kind == "account.going_quiet":
        found = detect_going_quiet(session, engine, directory, rule, now, model, enqueue, _mark, scores)
    elif rule.kind == "organization.declining":
        found = detect_declining(session, engine, directory, rule, now, decline_fraction, enqueue, _mark)
        for org, type_, _ in found:
            silence[org, type_] = _organization_silence(engine, directory, org, now)
    else:
        return _detect_inactive(session, engine, directory, rule, now)
    return [Transition(rule.id, subject, cast(EventType, type_), silence.get((subject, type_), 0), count)
            for subject, type_, count in found]


def _organization_silence(engine: Executor, directory: AccountDirectory, organization: str, now: datetime) -> int:
    """Days since any member of the organization was last active (0 with no activity on record)."""
    seen = last_activity(engine, directory.members(organization), today(now))
    return min(((today(now) - activity.last).days for activity in seen.values()), default=0)


def _detect_inactive(
    session: Session, engine: Executor, directory: AccountDirectory, rule: AlertRule, now: datetime
) -> list[Transition]:
    inactive = inactive_accounts(engine, directory, rule.threshold_days, now, rule.organization)
    states = {
        state.account: state.state
        for state in session.scalars(select(AccountAlertState).where(AccountAlertState.rule_id == rule.id))
    }
    transitions: list[Transition] = []
    crossing = [sub for sub in inactive.subs() if states.get(sub, "active") == "active"]
    for account in inactive.select(crossing):
        sub = account.sub
        if _mark(session, rule.id, sub, "inactive", sub in states, now):
            last_seen = None if account.last_seen is None else account.last_seen.isoformat()
            body = payload("account.inactive", now, rule, account_ref(account), last_seen, account.inactive_days)
            count = _enqueue(session, rule, "account.inactive", sub, body, now)
            transitions.append(Transition(rule.id, sub, "account.inactive", account.inactive_days, count))
    quiet = set(inactive.subs())
    returning = [sub for sub, state in states.items() if state == "inactive" and sub not in quiet]
    if rule.organization is not None and returning:
        members = set(directory.roster(rule.organization, now).subs)  # invited and not joined yet included
        returning = [sub for sub in returning if sub in members]
    refs = directory.lookup(returning) if returning else {}
    back = [sub for sub in returning if sub in refs]
    if back:
        seen = last_activity(engine, back, today(now))
        for sub in back:
            if _mark(session, rule.id, sub, "active", True, now):
                activity = seen.get(sub)
                last_seen = None if activity is None else activity.last.isoformat()
                idle = 0 if activity is None else (today(now) - activity.last).days
                body = payload("account.reactivated", now, rule, refs[sub], last_seen, idle)
                count = _enqueue(session, rule, "account.reactivated", sub, body, now)
                transitions.append(Transition(rule.id, sub, "account.reactivated", idle, count))
    return transitions


def run_detection(
    session_factory: Callable[[], Session],
    engine: Executor,
    directory: AccountDirectory,
    now: datetime,
    model: ChurnModel | None = None,
    decline_fraction: float = DEFAULT_DECLINE_FRACTION,
) -> list[Transition]:
    """Detect transitions for every enabled rule; each rule commits on its own, and a rule that fails is
    logged and skipped. `model` and `decline_fraction` are what `account.going_quiet` and
    `organization.declining` rules judge by."""
    model = model or ChurnModel()
    scores: Scores = {}  # going-quiet rules of one scope score its accounts once per run
    with session_factory() as session:
        rule_ids = list(session.scalars(select(AlertRule.id).where(AlertRule.enabled.is_(True))))
    transitions: list[Transition] = []
    for rule_id in rule_ids:
        with session_factory() as session:
            try:
                rule = session.get(AlertRule, rule_id)
                if rule is None or not rule.enabled:
                    continue
                check_stored(rule)
                found = _detect_rule(session, engine, directory, rule, now, model, decline_fraction, scores)
                session.commit()
            except (AlertConfigError, QueryError) as error:
                session.rollback()
                log.warning("alert rule %s skipped: %s", rule_id, error)
                continue
            except IntegrityError:
                session.rollback()
                log.info("alert rule %s: another runner recorded the same transitions", rule_id)
                continue
            except Exception:
                session.rollback()
                log.exception("alert rule %s skipped: its detection failed", rule_id)
                continue
            transitions.extend(found)
    return transitions
