"""Password sign-in: the attempt counted before the slow hash, the lockout after too many wrong passwords."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, case, or_, update
from sqlalchemy.orm import Session

from idp.accounts.errors import SignInFailed
from idp.accounts.models import User
from idp.accounts.passwords import hash_password, needs_rehash, verify_password
from idp.accounts.users import find_user_by_email
from idp.db import utcnow


def _no_notice(db: Session, user: User, until: datetime) -> None:
    """The default lock notice: nothing (``LoginPolicy.on_lock``)."""


@dataclass(frozen=True)
class LoginPolicy:
    """How many wrong passwords an account takes per lock period, how long it then stays locked, and whom to
    tell. ``on_lock(db, user, locked_until)`` is called once each time an account becomes locked, in the
    caller's transaction (which the caller commits): the place to tell the owner, e.g. by e-mail."""

    max_failures: int = 5
    lock_seconds: int = 900
    on_lock: Callable[[Session, User, datetime], None] = _no_notice


_users_table = cast(Table, User.__table__)
_users = _users_table.c


def _reserve_attempt(db: Session, user_id: str, policy: LoginPolicy, now: datetime) -> int | None:
    """Count one password attempt before its hash is checked, in one statement; the attempt's number in this
    lock period, or None when the account is locked.

    Concurrent attempts each get their own number, so at most ``max_failures`` passwords are checked per lock
    period however many arrive at once: the attempt that takes the last number locks the account for the
    others. A lock that has run out starts a new period (number 1).
    """
    expired = and_(_users.locked_until.is_not(None), _users.locked_until <= now)
    number = case((expired, 1), else_=_users.failed_logins + 1)
    statement = (
        update(_users_table)
        .where(_users.id == user_id, or_(_users.locked_until.is_(None), _users.locked_until <= now))
        .values(failed_logins=number,
                locked_until=case((number >= policy.max_failures, now + timedelta(seconds=policy.lock_seconds)),
                                  (expired, None), else_=_users.locked_until))
        .returning(_users.failed_logins)
    )
    reserved = db.execute(statement).scalar()
    db.commit()  # visible to every other attempt before the slow hash, and no lock held during it
    return None if reserved is None else int(reserved)


def authenticate(db: Session, email: str, password: str, policy: LoginPolicy, now: datetime | None = None) -> User:
    """Check a password; raises SignInFailed with the reason (unknown_user, disabled, locked, bad_password).

    Every refusal costs one argon2 check, so that timing tells nothing. The attempt is counted (and committed)
    before the password is checked (``_reserve_attempt``); a right password resets the count. The caller
    commits what follows: the reset, and whatever ``policy.on_lock`` did.
    """
    now = now or utcnow()
    user = find_user_by_email(db, email)
    if user is None:
        verify_password(None, password)  # same cost as a real check
        raise SignInFailed("unknown_user")
    if user.disabled:
        verify_password(None, password)
        raise SignInFailed("disabled", user.id)
    _check_counted(db, user, password, policy, now)
    user.last_sign_in_at = now
    return user


def confirm_password(db: Session, user: User, password: str, policy: LoginPolicy, now: datetime) -> None:
    """The signed-in owner's password typed again before a change that needs it (a second factor, the address,
    the password). Counted toward the lockout exactly as a sign-in is, before the slow hash, so whoever holds
    only a stolen session cannot guess the password without limit. Raises SignInFailed (disabled, locked,
    bad_password); a right password resets the count. The caller commits, as after ``authenticate``."""
    if user.disabled:
        verify_password(None, password)
        raise SignInFailed("disabled", user.id)
    _check_counted(db, user, password, policy, now)


def _check_counted(db: Session, user: User, password: str, policy: LoginPolicy, now: datetime) -> None:
    """The attempt counted (committed) before the hash is checked; a right one clears the count."""
    number = _reserve_attempt(db, user.id, policy, now)
    if number is None:
        verify_password(None, password)
        raise SignInFailed("locked", user.id)
    if not verify_password(user.password_hash, password):
        if number >= policy.max_failures:
            db.refresh(user)
            if user.locked_until is not None:
                policy.on_lock(db, user, user.locked_until)
        raise SignInFailed("bad_password", user.id)
    db.refresh(user)
    user.failed_logins = 0
    user.locked_until = None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
