"""The queue's rules: what is due, claiming a message so that two senders never send it twice, and what an
attempt's outcome does (sent; retried after a backoff; failed for good after ``MAX_ATTEMPTS`` or a permanent
refusal). Every function takes ``now``; ``idp.mail.sender`` runs them on a clock."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp.mail.models import FAILED, PENDING, SENT, OutgoingMail
from idp.mail.transport import Sent

log = logging.getLogger("canary.mail")

BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 3600, 7200)
"""Wait after the 1st, 2nd, ... failed attempt; the last value repeats."""
MAX_ATTEMPTS = 10
CLAIM_SECONDS = 120
"""A message being sent is hidden from other senders this long, in case its sender dies."""


def enqueue(db: Session, *, template: str, recipient: str, subject: str, message: bytes, now: datetime) -> OutgoingMail:
    row = OutgoingMail(template=template, recipient=recipient, subject=subject[:500],
                       message=message.decode("utf-8", "surrogateescape"), status=PENDING, attempts=0,
                       next_attempt_at=now, created_at=now)
    db.add(row)
    db.flush()
    return row


def claim_due(db: Session, now: datetime, limit: int = 50) -> list[int]:
    """Ids of due messages, each claimed by compare-and-set on its ``next_attempt_at``."""
    due = db.execute(select(OutgoingMail.id, OutgoingMail.next_attempt_at)
                     .where(OutgoingMail.status == PENDING, OutgoingMail.next_attempt_at <= now)
                     .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id).limit(limit)).all()
    claimed = []
    for mail_id, due_at in due:
        result = db.execute(update(OutgoingMail)
                            .where(OutgoingMail.id == mail_id, OutgoingMail.status == PENDING,
                                   OutgoingMail.next_attempt_at == due_at)
                            .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)))
        if getattr(result, "rowcount", 0) == 1:
            claimed.append(mail_id)
    db.commit()
    return claimed


def backoff(attempts: int) -> int:
    return BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]


def record(row: OutgoingMail, outcome: Sent, now: datetime) -> None:
    row.attempts += 1
    if outcome.delivered:
        row.status, row.sent_at, row.last_error, row.message = SENT, now, None, ""
        return
    row.last_error = (outcome.error or "unknown error")[:500]
    if outcome.permanent or row.attempts >= MAX_ATTEMPTS:
        row.status, row.message = FAILED, ""
        log.warning("mail %s to %s (%s) failed for good after %s attempts: %s", row.id, row.recipient,
                    row.template, row.attempts, row.last_error)
        return
    row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts))
    log.warning("mail %s to %s (%s) not sent (attempt %s): %s; retrying at %s", row.id, row.recipient,
                row.template, row.attempts, row.last_error, row.next_attempt_at.isoformat())


def counts(db: Session) -> dict[str, int]:
    """Messages per status."""
    rows = db.execute(select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status)).tuples()
    return {PENDING: 0, SENT: 0, FAILED: 0, **dict(rows.all())}
