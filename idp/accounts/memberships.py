"""Memberships: who belongs to which organization, with which role."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from idp.accounts.models import Membership, Organization, User


def add_member(db: Session, user: User, org: Organization, role: str = "member") -> Membership:
    existing = db.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.organization_id == org.id)
    )
    if existing is not None:
        existing.role = role
        existing.state = "active"  # added directly: no invitation left to accept
        return existing
    membership = Membership(user_id=user.id, organization_id=org.id, role=role)
    db.add(membership)
    db.flush()
    return membership


# Built once, on the table: every issued token's usage event asks (idp.activity), and the ORM-entity form of
# this statement cost as much as the refresh token's own look-up.
_memberships = Membership.__table__.c
_ORGANIZATION_IDS = select(_memberships.organization_id).where(_memberships.user_id == bindparam("user_id"))
_ACTIVE_ORGANIZATION_IDS = _ORGANIZATION_IDS.where(_memberships.state == "active")


def organization_ids(db: Session, user_id: str) -> list[str]:
    """Every organization the user belongs to or is invited to."""
    return list(db.scalars(_ORGANIZATION_IDS, {"user_id": user_id}))


def active_organization_ids(db: Session, user_id: str) -> list[str]:
    """The organizations the user belongs to (invitations not yet accepted left out)."""
    return list(db.scalars(_ACTIVE_ORGANIZATION_IDS, {"user_id": user_id}))


def members_of(db: Session, org_ids: list[str]) -> set[str]:
    if not org_ids:
        return set()
    return set(db.scalars(select(Membership.user_id).where(Membership.organization_id.in_(org_ids))))


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
