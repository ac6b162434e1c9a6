"""Account services: users, organizations and memberships. Callers pass a SQLAlchemy session."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from idp.accounts.errors import AccountError, EmailTaken, NotFound, SignInFailed
from idp.accounts.models import LoginSession, Membership, Organization, User
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
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like, escape="\\"),
                              func.lower(User.name).like(like, escape="\\")))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(User.created_at, User.id).offset(offset).limit(limit)).all()
    return list(rows), total


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


# Built once, on the table: every issued token's usage event asks (idp.activity), and the ORM-entity form of
# this statement cost as much as the refresh token's own look-up.
_memberships = Membership.__table__.c
_ORGANIZATION_IDS = select(_memberships.organization_id).where(_memberships.user_id == bindparam("user_id"))


def organization_ids(db: Session, user_id: str) -> list[str]:
    return list(db.scalars(_ORGANIZATION_IDS, {"user_id": user_id}))


def members_of(db: Session, org_ids: list[str]) -> set[str]:
    if not org_ids:
        return set()
    return set(db.scalars(select(Membership.user_id).where(Membership.organization_id.in_(org_ids))))


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def update_user(
    db: Session, user: User, *, email: str | None = None, name: str | None = None,
    email_verified: bool | None = None, password: str | None = None,
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
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
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


def memberships_of(db: Session, user_ids: list[str]) -> dict[str, list[tuple[Organization, Membership]]]:
    """Each account's organizations, ordered by slug."""
    out: dict[str, list[tuple[Organization, Membership]]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return out
    rows = db.execute(select(Organization, Membership).join(Membership, Membership.organization_id == Organization.id)
                      .where(Membership.user_id.in_(user_ids)).order_by(Organization.slug)).tuples()
    for org, membership in rows:
        out[membership.user_id].append((org, membership))
    return out


def check_slug(slug: str) -> str:
    """The normalised slug, or AccountError when it is not one."""
    slug = slug.strip().lower()
    if not _SLUG.match(slug):
        raise AccountError(f"organization slug must be lowercase letters, digits and dashes: {slug!r}")
    return slug


def slug_taken(db: Session, slug: str, excluding: str | None = None) -> bool:
    stmt = select(Organization.id).where(Organization.slug == slug)
    if excluding is not None:
        stmt = stmt.where(Organization.id != excluding)
    return db.scalar(stmt) is not None


def _contains(column: InstrumentedAttribute[str], query: str) -> ColumnElement[bool]:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def search_organizations(
    db: Session, query: str = "", *, offset: int = 0, limit: int = 50
) -> tuple[list[Organization], int]:
    stmt = select(Organization)
    if query:
        stmt = stmt.where(or_(_contains(Organization.slug, query), _contains(Organization.name, query)))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(Organization.slug).offset(offset).limit(limit)).all()
    return list(rows), total


def member_counts(db: Session, org_ids: list[str]) -> dict[str, int]:
    counts = {org_id: 0 for org_id in org_ids}
    if org_ids:
        rows = db.execute(select(Membership.organization_id, func.count()).where(
            Membership.organization_id.in_(org_ids)).group_by(Membership.organization_id)).tuples()
        counts.update({org_id: count for org_id, count in rows})
    return counts


def update_organization(db: Session, org: Organization, *, slug: str | None = None, name: str | None = None) -> None:
    if slug is not None:
        slug = check_slug(slug)
        if slug_taken(db, slug, excluding=org.id):
            raise AccountError(f"organization {slug} exists")
        org.slug = slug
    if name is not None:
        org.name = name.strip() or org.slug


def delete_organization(db: Session, org: Organization) -> None:
    """Memberships go with it; clients of the organization are kept, without one (the foreign keys say so)."""
    db.delete(org)
    db.flush()


def members_page(
    db: Session, org: Organization, *, offset: int = 0, limit: int = 50
) -> tuple[list[tuple[User, Membership]], int]:
    total = db.scalar(select(func.count()).select_from(Membership).where(Membership.organization_id == org.id)) or 0
    rows = db.execute(select(User, Membership).join(Membership, Membership.user_id == User.id)
                      .where(Membership.organization_id == org.id)
                      .order_by(Membership.created_at, Membership.id).offset(offset).limit(limit)).tuples()
    return list(rows), total


def find_membership(db: Session, user_id: str, org_id: str) -> Membership | None:
    return db.scalar(select(Membership).where(Membership.user_id == user_id, Membership.organization_id == org_id))


def remove_member(db: Session, user_id: str, org_id: str) -> bool:
    membership = find_membership(db, user_id, org_id)
    if membership is None:
        return False
    db.delete(membership)
    db.flush()
    return True
