"""The provider's accounts as analytics sees them (``analytics.directory.AccountDirectory``)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from analytics.directory import AccountRef
from idp.accounts.models import Membership, Organization, User


class SqlAccountDirectory:
    """Reads users and memberships from the accounts database on every call (no cache to go stale)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def accounts(self, organization: str | None = None) -> list[AccountRef]:
        with self.factory() as db:
            memberships: dict[str, list[str]] = defaultdict(list)
            for user_id, org_id in db.execute(select(Membership.user_id, Membership.organization_id)):
                memberships[user_id].append(org_id)
            stmt = select(User.id, User.email, User.name, User.created_at)
            if organization is not None:
                stmt = stmt.join(Membership, Membership.user_id == User.id).where(
                    Membership.organization_id == organization)
            return [AccountRef(sub=row.id, email=row.email, name=row.name, created_at=row.created_at,
                               organizations=tuple(sorted(memberships.get(row.id, ()))))
                    for row in db.execute(stmt)]

    def organization_exists(self, organization: str) -> bool:
        with self.factory() as db:
            return db.get(Organization, organization) is not None
