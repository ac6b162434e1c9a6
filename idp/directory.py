"""The provider's accounts as analytics sees them (``analytics.directory.AccountDirectory``).

Reports over every account read a hundred thousand subs at a time: those reads fetch subs only, joined
into one string by the database.
Details are read for the accounts a report lists (`lookup`), in chunks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from analytics.directory import AccountRef, Roster
from idp.accounts.models import Membership, Organization, User

LOOKUP_CHUNK = 500


class SqlAccountDirectory:
    """Reads users and memberships from the accounts database on every call (no cache to go stale)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def accounts(self, organization: str | None = None) -> list[AccountRef]:
        users = select(User.id, User.email, User.name, User.created_at)
        memberships = select(Membership.user_id, Membership.organization_id)
        if organization is not None:
            users = _of(users, organization)
            memberships = memberships.where(Membership.user_id.in_(_of(select(User.id), organization)))
        with self.factory() as db:
            connection = db.connection()
            organizations: dict[str, list[str]] = defaultdict(list)
            for user_id, org_id in connection.execute(memberships).tuples():
                organizations[user_id].append(org_id)
            return [AccountRef(sub, email, name, created_at, tuple(sorted(organizations.get(sub, ()))))
                    for sub, email, name, created_at in connection.execute(users).tuples()]

    def members(self, organization: str) -> list[str]:
        with self.factory() as db:
            return _strings(db.connection(), _of(select(User.id), organization))

    def roster(self, organization: str | None, created_before: datetime) -> Roster:
        """In an organization, a member still in state ``invited`` counts from the invitation: never active
        since it, they are inactive once it is old enough."""
        stmt = select(User.id)
        since: Any = User.created_at
        if organization is not None:
            stmt = _of(stmt, organization)
            since = case((Membership.state == "invited", func.coalesce(Membership.invited_at, User.created_at)),
                         else_=User.created_at)
        with self.factory() as db:
            connection = db.connection()
            subs = _strings(connection, stmt)
            newer = connection.execute(stmt.where(since >= created_before)).scalars().all()
        return Roster(subs, list(newer))

    def lookup(self, subs: Sequence[str]) -> dict[str, AccountRef]:
        found: dict[str, AccountRef] = {}
        with self.factory() as db:
            connection = db.connection()
            for start in range(0, len(subs), LOOKUP_CHUNK):
                chunk = list(subs[start:start + LOOKUP_CHUNK])
                memberships: dict[str, list[str]] = defaultdict(list)
                rows = connection.execute(
                    select(Membership.user_id, Membership.organization_id).where(Membership.user_id.in_(chunk)))
                for user_id, org_id in rows.tuples():
                    memberships[user_id].append(org_id)
                users = connection.execute(
                    select(User.id, User.email, User.name, User.created_at).where(User.id.in_(chunk)))
                details = {
                    sub: AccountRef(sub, email, name, created_at, tuple(sorted(memberships.get(sub, ()))))
                    for sub, email, name, created_at in users.tuples()
                }
                # In the order asked for.
                found.update((sub, details[sub]) for sub in chunk if sub in details)
        return found

    def organization_exists(self, organization: str) -> bool:
        with self.factory() as db:
            return db.get(Organization, organization) is not None


def _strings(connection: Connection, stmt: Select[tuple[str]]) -> list[str]:
    """The one string column of `stmt`'s rows, as one string the database joins: a hundred thousand
    rows cost the driver and SQLAlchemy more than the database's read. Subs are generated hex ids; a
    value holding the separator would show as a count mismatch, and is read row by row instead."""
    rows = stmt.subquery()
    joined = select(func.count(), func.aggregate_strings(rows.c[0], _SEPARATOR))
    count, text = connection.execute(joined).one()
    values = text.split(_SEPARATOR) if count else []
    if len(values) != count:
        values = list(connection.execute(stmt).scalars())
    return values


_SEPARATOR = "\n"


def _of(stmt: Select[Any], organization: str) -> Select[Any]:
    """`stmt` over users, restricted to the members of `organization`."""
    return stmt.join(Membership, Membership.user_id == User.id).where(Membership.organization_id == organization)
