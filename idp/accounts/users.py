"""Accounts: creating, finding, searching, changing, disabling and enabling users."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from analytics.alerts import is_email_address
from idp.accounts.errors import AccountError, EmailTaken, NotFound
from idp.accounts.models import LoginSession, User
from idp.accounts.organizations import contains_text
from idp.accounts.password_rules import check_password
from idp.accounts.passwords import hash_password
from idp.db import utcnow

_STORED_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
"""What an address stored before ``is_email_address`` was enforced may look like: such accounts are still
found by their address (they can sign in), though no new address like theirs is accepted."""
MIN_PASSWORD = 8
"""The floor of ``CANARY_PASSWORD_MIN_LENGTH``."""
DEFAULT_PASSWORD_MIN_LENGTH = 10


def normalize_email(email: str) -> str:
    """``email`` as an account stores it: trimmed, in lower case, and one address by ``is_email_address``
    (the rule alert recipients follow too); AccountError otherwise."""
    address = email.strip().lower()
    if not is_email_address(address):
        raise AccountError(f"not an e-mail address: {address!r}")
    return address


def create_user(
    db: Session, *, email: str, password: str | None, name: str = "", email_verified: bool = False,
    password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH,
) -> User:
    """A new account; a password, when given, must pass ``idp.accounts.password_rules``."""
    email = normalize_email(email)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken(f"an account with {email} exists")
    if password is not None:
        check_password(password, min_length=password_min_length, email=email, name=name)
    user = User(
        email=email,
        name=name.strip(),
        email_verified=email_verified,
        password_hash=hash_password(password) if password else None,
    )
    db.add(user)
    db.flush()
    return user


def get_user(db: Session, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"no account {user_id}")
    return user


def find_user_by_email(db: Session, email: str) -> User | None:
    address = email.strip().lower()
    if not _STORED_EMAIL.fullmatch(address):
        return None
    return db.scalar(select(User).where(User.email == address))


def search_users(db: Session, query: str = "", *, offset: int = 0, limit: int = 50) -> tuple[list[User], int]:
    stmt = select(User)
    if query:  # in any case, non-ASCII letters too (``contains_text``)
        stmt = stmt.where(or_(contains_text(User.email, query), contains_text(User.name, query)))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(User.created_at, User.id).offset(offset).limit(limit)).all()
    return list(rows), total


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def update_user(
    db: Session, user: User, *, email: str | None = None, name: str | None = None,
    email_verified: bool | None = None, password: str | None = None,
    password_min_length: int = DEFAULT_PASSWORD_MIN_LENGTH,
) -> None:
    """Change what is given. A new e-mail address is unverified unless ``email_verified`` says otherwise;
    a new password also lifts a lockout."""
    if email is not None:
        email = normalize_email(email)
        if email != user.email:
            if db.scalar(select(User.id).where(User.email == email, User.id != user.id)) is not None:
                raise EmailTaken(f"an account with {email} exists")
            user.email = email
            user.email_verified = False
    if name is not None:
        user.name = name.strip()
    if email_verified is not None:
        user.email_verified = email_verified
    if password is not None:
        check_password(password, min_length=password_min_length, email=user.email, name=user.name)
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None


def disable_user(db: Session, user: User, now: datetime | None = None) -> int:
    """Refuse sign-in and end the account's login sessions; returns how many were ended. Its access tokens
    already stop working (``idp.oauth.resource_access`` checks ``disabled``)."""
    now = now or utcnow()
    user.disabled = True
    ended = db.execute(update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
                       .values(ended_at=now))
    return int(getattr(ended, "rowcount", 0) or 0)


def enable_user(user: User) -> None:
    """Allow sign-in again, lifting a lockout too."""
    user.disabled = False
    user.failed_logins = 0
    user.locked_until = None
