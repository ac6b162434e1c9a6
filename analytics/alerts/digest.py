"""E-mail digests: a rule with `digest` = `daily` or `weekly` e-mails its recipients one message per period
listing its transitions since the last digest, instead of one message per transition (webhooks stay
immediate).

Detection writes each transition of such a rule to `alert_digest_items` in the transaction that moves its
state. `enqueue_digests` closes every period that has ended: it moves the rule's `digest_sent_at` by
compare-and-set (so two runners, a rerun or a restart never send a period twice), turns the waiting items into
one `alert.digest` delivery per e-mail recipient, and removes them, all in one transaction; the dispatcher
then sends them with the retries of every delivery. A period with no transitions sends nothing. Items left by
a rule whose digest was switched off go out at the next run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from analytics.alerts.detector import new_message_id
from analytics.alerts.models import AlertRule, Delivery, DigestItem

log = logging.getLogger(__name__)

DIGEST_EVENT = "alert.digest"
PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def _entry(item: DigestItem) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(item.payload).get("data") or {}
    keys = ("account", "email", "organization", "last_seen", "inactive_days", "explanation")
    return {"type": item.event_type, "at": item.created_at.isoformat().replace("+00:00", "Z"),
            **{key: data.get(key) for key in keys}}


def _close(session: Session, rule: AlertRule, now: datetime) -> int:
    """Queue the digest of `rule` if its period has ended; the number of deliveries queued."""
    since = rule.digest_sent_at
    if rule.digest is not None:
        if since is not None and now < since + PERIODS[rule.digest]:
            return 0
        moved = session.execute(update(AlertRule).where(
            AlertRule.id == rule.id,
            AlertRule.digest_sent_at.is_(None) if since is None else AlertRule.digest_sent_at == since,
        ).values(digest_sent_at=now))
        if getattr(moved, "rowcount", 0) != 1:
            return 0  # another runner closed this period
    items = list(session.scalars(select(DigestItem).where(DigestItem.rule_id == rule.id, DigestItem.created_at <= now)
                                 .order_by(DigestItem.created_at, DigestItem.id)))
    if not items:
        return 0
    body = json.dumps({
        "type": DIGEST_EVENT,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {"rule_id": rule.id, "rule_name": rule.name, "rule_kind": rule.kind, "digest": rule.digest,
                 "since": None if since is None else since.isoformat().replace("+00:00", "Z"),
                 "items": [_entry(item) for item in items]},
    }, separators=(",", ":"))
    session.execute(delete(DigestItem).where(DigestItem.id.in_([item.id for item in items])))
    emails = [channel.email for channel in rule.channels if channel.email is not None]
    for email in emails:
        session.add(Delivery(message_id=new_message_id(), rule_id=rule.id, endpoint_id=None, email=email,
                             event_type=DIGEST_EVENT, account=f"rule {rule.id}"[:255], payload=body, attempts=0,
                             status="pending", next_attempt_at=now, created_at=now))
    return len(emails)


def enqueue_digests(session_factory: Callable[[], Session], now: datetime) -> int:
    """Queue the digests whose period has ended at ``now``; each rule commits on its own, and one that fails
    is logged and skipped. The number of deliveries queued."""
    with session_factory() as session:
        rule_ids = set(session.scalars(select(AlertRule.id).where(AlertRule.digest.is_not(None))))
        rule_ids |= set(session.scalars(select(DigestItem.rule_id).distinct()))
    queued = 0
    for rule_id in sorted(rule_ids):
        with session_factory() as session:
            try:
                rule = session.get(AlertRule, rule_id)
                if rule is None:
                    continue
                count = _close(session, rule, now)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("alert rule %s: its digest could not be queued", rule_id)
                continue
            queued += count
    return queued
