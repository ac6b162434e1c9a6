"""Account services: users, organizations and memberships. Callers pass a SQLAlchemy session."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from idp.accounts.errors import AccountError, EmailTaken, NotFound, SignInFailed
from idp.accounts.models import Membership, Organization, User
from idp.accounts.passwords import hash_password, needs_rehash, verify_password
from idp.db import utcnow

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,98}$")
MIN_PASSWORD = 8


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"not an e-mail address: {email!r}")
    return email


def create_user(
    db: Session, *, email: str, password: str | None, name: str = "", email_verified: bool = False
) -> User:
    email = normalize_email(email)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken(f"an account with {email} exists")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
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
    try:
        email = normalize_email(email)
    except AccountError:
        return None
    return db.scalar(select(User).where(User.email == email))


def search_users(db: Session, query: str = "", *, offset: int = 0, limit: int = 50) -> tuple[list[User], int]:
    stmt = select(User)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(User.created_at, User.id).offset(offset).limit(limit)).all()
    return list(rows), total


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lock_seconds: int = 900


def authenticate(db: Session, email: str, password: str, policy: LoginPolicy, now: datetime | None = None) -> User:
    """Check a password. Raises SignInFailed with the reason; updates lockout counters."""
    now = now or utcnow()
    user = find_user_by_email(db, email)
    if user is None:
        verify_password(None, password)  # same cost as a real check
        raise SignInFailed("unknown_user")
    if user.disabled:
        verify_password(None, password)
        raise SignInFailed("disabled", user.id)
    if user.locked_until is not None and user.locked_until > now:
        verify_password(None, password)
        raise SignInFailed("locked", user.id)
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + timedelta(seconds=policy.lock_seconds)
            user.failed_logins = 0
        raise SignInFailed("bad_password", user.id)
    user.failed_logins = 0
    user.locked_until = None
    user.last_sign_in_at = now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def create_organization(db: Session, *, slug: str, name: str = "") -> Organization:
    slug = slug.strip().lower()
    if not _SLUG.match(slug):
        raise AccountError(f"organization slug must be lowercase letters, digits and dashes: {slug!r}")
    if db.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise AccountError(f"organization {slug} exists")
    org = Organization(slug=slug, name=name or slug)
    db.add(org)
    db.flush()
    return org


def find_organization(db: Session, id_or_slug: str) -> Organization | None:
    return db.scalar(
        select(Organization).where(or_(Organization.id == id_or_slug, Organization.slug == id_or_slug))
    )


def add_member(db: Session, user: User, org: Organization, role: str = "member") -> Membership:
    existing = db.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.organization_id == org.id)
    )
    if existing is not None:
        existing.role = role
        return existing
    membership = Membership(user_id=user.id, organization_id=org.id, role=role)
    db.add(membership)
    db.flush()
    return membership


def organization_ids(db: Session, user_id: str) -> list[str]:
    return list(db.scalars(select(Membership.organization_id).where(Membership.user_id == user_id)))


def members_of(db: Session, org_ids: list[str]) -> set[str]:
    if not org_ids:
        return set()
    return set(db.scalars(select(Membership.user_id).where(Membership.organization_id.in_(org_ids))))
