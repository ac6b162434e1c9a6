"""Who must use a second factor, what a user has, the lockout that wrong codes count toward, and the reset.

A wrong second factor counts as a failed sign-in: it increments the account's own counter of wrong second
factors with one atomic UPDATE and locks the account (``locked_until``, which the password check refuses) when
the counter reaches the login policy's limit. The counter is separate from the password's, because a correct
password clears that one: someone who knows the password cannot reset the count of their guessed codes. Only a
correct second factor clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from idp.accounts.factors import passkeys, recovery, totp
from idp.accounts.models import FactorChallenge, Membership, Organization, User


@dataclass(frozen=True)
class Factors:
    """What second factors an account has."""

    totp: bool
    passkeys: int
    recovery_codes: int

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0


def factors_of(db: Session, user_id: str) -> Factors:
    return Factors(totp=totp.confirmed(db, user_id), passkeys=len(passkeys.of_user(db, user_id)),
                   recovery_codes=recovery.remaining(db, user_id))


def required_by_organization(db: Session, user_id: str) -> bool:
    """Whether one of the user's organizations requires a second factor."""
    return db.scalar(select(Organization.id).join(Membership, Membership.organization_id == Organization.id)
                     .where(Membership.user_id == user_id, Organization.require_second_factor.is_(True))
                     .limit(1)) is not None


def set_organization_requirement(org: Organization, required: bool) -> None:
    org.require_second_factor = required


def count_failure(db: Session, user_id: str, max_failures: int, lock_seconds: int, now: datetime
                  ) -> datetime | None:
    """One wrong second factor: the account's failure counter goes up, atomically, and at ``max_failures`` the
    account is locked for ``lock_seconds`` and the counter starts again. Returns the end of the lock when this
    failure locked the account (its owner is then told), else None."""
    users = User.__table__.c
    reached = users.factor_failures + 1 >= max_failures
    until = now + timedelta(seconds=lock_seconds)
    locked = db.execute(update(User).where(User.id == user_id).values(
        factor_failures=case((reached, 0), else_=users.factor_failures + 1),
        locked_until=case((reached, until), else_=users.locked_until),
    ).returning(case((reached, True), else_=False)).execution_options(synchronize_session=False)).scalar()
    return until if locked else None


def clear_failures(db: Session, user_id: str) -> None:
    db.execute(update(User).where(User.id == user_id).values(factor_failures=0)
               .execution_options(synchronize_session=False))


def reset(db: Session, user_id: str) -> Factors:
    """An operator's reset: the authenticator app, recovery codes and passkeys go, and ceremonies in progress
    end. Returns what the account had."""
    had = factors_of(db, user_id)
    totp.remove(db, user_id)
    recovery.remove(db, user_id)
    passkeys.remove_all(db, user_id)
    for row in db.scalars(select(FactorChallenge).where(FactorChallenge.user_id == user_id)):
        db.delete(row)
    db.flush()
    return had
