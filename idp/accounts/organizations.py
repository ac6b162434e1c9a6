"""Organizations: creating, finding, searching, renaming and deleting them, and counting their members."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from idp.accounts.errors import AccountError
from idp.accounts.models import Membership, Organization
from idp.db import UnicodeLower

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,98}$")


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


def contains_text(column: InstrumentedAttribute[str] | ColumnElement[str], query: str) -> ColumnElement[bool]:
    """``column`` holds ``query`` in any case ("élodie" finds "ÉLODIE Straße"); ``%``, ``_`` and ``\\`` are
    matched as themselves."""
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return UnicodeLower(column).like(f"%{escaped}%", escape="\\")


def search_organizations(
    db: Session, query: str = "", *, offset: int = 0, limit: int = 50
) -> tuple[list[Organization], int]:
    stmt = select(Organization)
    if query:
        stmt = stmt.where(or_(contains_text(Organization.slug, query), contains_text(Organization.name, query)))
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
