"""In-memory caches that must not outlive a change: forget at once, and again when the change commits.

Forgetting only at once is not enough: between the change and its commit another thread may read the old row
and cache it again. Forgetting only after the commit leaves a window the other way. Both close the gap for this
process; other processes see changes when their entries expire.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_INFO_KEY = "canary.forget_on_commit"


def forget_on_commit(db: Session, forget: Callable[[], None]) -> None:
    forget()
    db.info.setdefault(_INFO_KEY, []).append(forget)


@event.listens_for(Session, "after_commit")
def _forget_after_commit(db: Session) -> None:
    for forget in db.info.pop(_INFO_KEY, ()):
        forget()


@event.listens_for(Session, "after_soft_rollback")
def _discard_on_rollback(db: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        db.info.pop(_INFO_KEY, None)
