"""Who must use a second factor, what a user has, the lockout that wrong codes count toward, and the reset.

A second-factor answer counts as a failed sign-in until it is found right: it is counted before it is checked
(``count_answer``: the ceremony's attempts and the account's own counter of wrong second factors, each one atomic
UPDATE), and the answer that reaches the login policy's limit locks the account (``locked_until``, which the
password check refuses). The counter is separate from the password's, because a correct
password clears that one: someone who knows the password cannot reset the count of their guessed codes. Only a
correct second factor clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from idp.accounts.factors import challenges, passkeys, recovery, totp
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


@dataclass(frozen=True)
class Counted:
    """A second-factor answer counted before it was checked (``count_answer``)."""

    left: int  # the wrong answers its ceremony allows after this one
    locks: datetime | None  # the lock this answer set by taking the account's last try (lifted if it is right)


def count_answer(db: Session, row: FactorChallenge, user_id: str, max_failures: int, lock_seconds: int,
                 now: datetime) -> Counted | None:
    """Count one second-factor answer against its ceremony and the account before it is checked, each in one
    statement, so that however many arrive at once no more than the ceremony's and the account's limits are
    checked: the answer that takes the account's last try locks it for the others (the counter then starts
    again). None when the ceremony has no answer left or the account is locked. The caller commits before
    checking the answer, and calls ``answered_right`` if it was right."""
    left = challenges.reserve(db, row)
    if left is None:
        return None
    users = User.__table__.c
    expired = and_(users.locked_until.is_not(None), users.locked_until <= now)
    number = case((expired, 1), else_=users.factor_failures + 1)
    until = now + timedelta(seconds=lock_seconds)
    failures = db.execute(
        update(User)
        .where(User.id == user_id, or_(users.locked_until.is_(None), users.locked_until <= now))
        .values(factor_failures=case((number >= max_failures, 0), else_=number),
                locked_until=case((number >= max_failures, until), (expired, None), else_=users.locked_until))
        .returning(users.factor_failures)
        .execution_options(synchronize_session=False)).scalar()
    if failures is None:
        return None
    return Counted(left, until if failures == 0 else None)


def answered_right(db: Session, user_id: str, counted: Counted) -> None:
    """A right answer clears the account's count, and lifts the lock it set if it took the last try."""
    values: dict[str, object] = {"factor_failures": 0}
    if counted.locks is not None:
        values["locked_until"] = None
    db.execute(update(User).where(User.id == user_id).values(**values)
               .execution_options(synchronize_session=False))


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
