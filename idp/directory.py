"""The provider's accounts as analytics sees them (``analytics.directory.AccountDirectory``).

Reports over every account read a hundred thousand subs at a time: those reads fetch subs only, joined
into one string by the database.
Details are read for the accounts a report lists (`lookup`), in chunks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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
        memberships = _MEMBERSHIPS
        if organization is not None:
            users = _of(users, organization)
            memberships = memberships.where(Membership.user_id.in_(_of(select(User.id), organization)))
        with self.factory() as db:
            connection = db.connection()
            joined = _Memberships(connection.execute(memberships).tuples())
            return [joined.ref(sub, email, name, created_at)
                    for sub, email, name, created_at in connection.execute(users).tuples()]

    def members(self, organization: str) -> list[str]:
        with self.factory() as db:
            return _strings(db.connection(), _of(select(User.id), organization).where(Membership.state == "active"))

    def roster(self, organization: str | None, created_before: datetime) -> Roster:
        """In an organization, a member still in state ``invited`` counts from the invitation: never active
        since it, they are inactive once it is old enough."""
        stmt = select(User.id)
        since: Any = User.created_at
        invited_at = func.coalesce(Membership.invited_at, User.created_at)
        if organization is not None:
            stmt = _of(stmt, organization)
            since = case((Membership.state == "invited", invited_at), else_=User.created_at)
        with self.factory() as db:
            connection = db.connection()
            subs = _strings(connection, stmt)
            newer = connection.execute(stmt.where(since >= created_before)).scalars().all()
            invited: dict[str, datetime] = {}
            if organization is not None:
                pending = _of(select(User.id, invited_at), organization).where(Membership.state == "invited")
                invited.update((sub, at) for sub, at in connection.execute(pending).tuples())
        return Roster(subs, list(newer), invited)

    def lookup(self, subs: Sequence[str]) -> dict[str, AccountRef]:
        found: dict[str, AccountRef] = {}
        with self.factory() as db:
            connection = db.connection()
            for start in range(0, len(subs), LOOKUP_CHUNK):
                chunk = list(subs[start:start + LOOKUP_CHUNK])
                joined = _Memberships(
                    connection.execute(_MEMBERSHIPS.where(Membership.user_id.in_(chunk))).tuples())
                users = connection.execute(
                    select(User.id, User.email, User.name, User.created_at).where(User.id.in_(chunk)))
                details = {
                    sub: joined.ref(sub, email, name, created_at) for sub, email, name, created_at in users.tuples()
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

_MEMBERSHIPS = select(Membership.user_id, Membership.organization_id, Membership.state, Membership.invited_at)


class _Memberships:
    """Memberships rows (`_MEMBERSHIPS`) by account, made into the organizations of `AccountRef`."""

    def __init__(self, rows: Iterable[tuple[str, str, str, datetime | None]]) -> None:
        self.organizations: dict[str, list[str]] = defaultdict(list)
        self.invitations: dict[str, list[tuple[str, datetime | None]]] = defaultdict(list)
        for user_id, org_id, state, invited_at in rows:
            self.organizations[user_id].append(org_id)
            if state == "invited":
                self.invitations[user_id].append((org_id, invited_at))

    def ref(self, sub: str, email: str | None, name: str | None, created_at: datetime) -> AccountRef:
        # An invitation without its time counts from the account's creation, as `roster` counts it.
        invitations = tuple(sorted((org, at or created_at) for org, at in self.invitations.get(sub, ())))
        return AccountRef(sub, email, name, created_at, tuple(sorted(self.organizations.get(sub, ()))), invitations)


def _of(stmt: Select[Any], organization: str) -> Select[Any]:
    """`stmt` over users, restricted to the members of `organization` and the people it invited."""
    return stmt.join(Membership, Membership.user_id == User.id).where(Membership.organization_id == organization)
