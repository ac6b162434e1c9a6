"""Refresh tokens at rest: opaque values kept as SHA-256 digests, rotated on every use (RFC 6749 §6, §10.4;
RFC 9700 §4.14.2).

Rotation spends the presented token and stores its successor atomically: of two concurrent uses of one token
exactly one gets a successor. A spent token presented again is a replay, and ``idp.oauth.grants`` revokes its
grant (the whole family) for it.

On PostgreSQL the rotation is one statement, ``WITH spent AS (UPDATE … RETURNING …) INSERT … SELECT … FROM
spent``: atomic by itself, so a refresh needs no transaction around it, and its session's connection runs in
autocommit (no BEGIN and COMMIT round trips: the look-up and the rotation are the refresh's only two).
SQLite has no data-modifying CTEs: there the spend and the insert are two statements of one transaction, the
process's write gate (``idp.db``) held from the first to the commit.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from idp.accounts.models import LoginSession, Membership, User
from idp.loop_postgres import LoopConnection, LoopPostgres
from idp.oauth.models import Client, Grant, RefreshToken
from idp.opaque import digest, new_secret

MAX_LENGTH = 512  # longer values are refused unread; ours are 43 characters


@dataclass(frozen=True)
class PresentedRefreshToken:
    """A refresh token presented at the token endpoint, read with its grant's state and its user in one query.

    ``user`` is None when the account is gone or disabled. Authlib's ``TokenMixin`` methods are the ones the
    refresh grant calls.
    """

    token_hash: str
    grant_id: str
    client_id: str
    scope: str
    auth_time: datetime
    sid: str | None
    expires_at: datetime
    spent: bool
    grant_active: bool
    user: User | None
    session_methods: tuple[str, str | None] | None = None  # the login session's (amr, acr); None when it is gone
    sole_organization: str = ""  # the user's organization when it has exactly one (the token event's)

    def check_client(self, client: Client) -> bool:
        return hmac.compare_digest(self.client_id, client.client_id)

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def usable(self, now: datetime) -> bool:
        """Unspent, unexpired, and its grant not revoked: what a refresh may rotate."""
        return not self.spent and not self.is_expired(now) and self.grant_active


@dataclass(frozen=True)
class NewRefreshToken:
    """A refresh token made but not stored yet: ``value`` goes to the client, ``row`` into the table."""

    value: str
    row: dict[str, Any]


# Statements built once: SQLAlchemy then reuses their cache keys and compiled forms. Core statements on the tables
# (not the ORM entities) skip the ORM's loading, unit of work and bulk-update bookkeeping.
_TOKENS: Table = RefreshToken.__table__  # type: ignore[assignment]
_GRANTS: Table = Grant.__table__  # type: ignore[assignment]
_USERS: Table = User.__table__  # type: ignore[assignment]
_SESSIONS: Table = LoginSession.__table__  # type: ignore[assignment]
_MEMBERSHIPS: Table = Membership.__table__  # type: ignore[assignment]
_rt, _grant, _user, _session, _m = _TOKENS.c, _GRANTS.c, _USERS.c, _SESSIONS.c, _MEMBERSHIPS.c
_COLUMNS = ("token_hash", "grant_id", "client_id", "user_id", "scope", "auth_time", "sid", "issued_at",
            "expires_at", "spent_at")

# The login session (by `sid`) gives the refreshed ID token its `amr` and `acr`, and the user's memberships (not
# invitations waiting to be accepted) the token event its organization: read here, in the same query, rather
# than in two more round trips.
_PRESENTED = (
    select(_rt.grant_id, _rt.client_id, _rt.user_id, _rt.scope, _rt.auth_time, _rt.sid, _rt.expires_at,
           _rt.spent_at, _grant.id.label("grant_found"), _grant.revoked_at,
           _user.email, _user.email_verified, _user.name, _user.disabled,
           _session.amr, _session.acr, _session.sid.label("session_found"),
           select(func.count()).where(_m.user_id == _rt.user_id, _m.state == "active").scalar_subquery()
           .label("organizations"),
           select(func.min(_m.organization_id)).where(_m.user_id == _rt.user_id, _m.state == "active")
           .scalar_subquery().label("first_organization"))
    .select_from(_TOKENS.outerjoin(_GRANTS, _grant.id == _rt.grant_id)
                 .outerjoin(_USERS, _user.id == _rt.user_id)
                 .outerjoin(_SESSIONS, _session.sid == _rt.sid))
    .where(_rt.token_hash == bindparam("token_hash"))
)
_INSERT = insert(_TOKENS)
_SPEND = (update(_TOKENS)
          .where(_rt.token_hash == bindparam("presented"), _rt.spent_at.is_(None))
          .values(spent_at=bindparam("spent")))
# PostgreSQL: spend and insert in one statement; the successor is inserted only if this statement spent the
# presented token. A concurrent rotation of the same token waits on the row lock, then finds it spent (READ
# COMMITTED re-checks the WHERE on the updated row) and inserts nothing.
# The successor's parameters are named apart from the columns: parameters named after a column of the UPDATE's
# table would become values of its SET clause.
_spent = _SPEND.returning(_rt.token_hash).cte("spent")
_ROTATE_IN_ONE_STATEMENT = _INSERT.from_select(
    list(_COLUMNS),
    select(*(bindparam(f"new_{name}", type_=_rt[name].type) for name in _COLUMNS)).select_from(_spent),
).execution_options(preserve_rowcount=True)  # SQLAlchemy keeps an INSERT's row count only when asked


def new_refresh_token(*, grant_id: str, client_id: str, user_id: str, scope: str, auth_time: datetime,
                      sid: str | None, now: datetime, ttl: int) -> NewRefreshToken:
    value = new_secret()
    return NewRefreshToken(value, {
        "token_hash": digest(value), "grant_id": grant_id, "client_id": client_id, "user_id": user_id,
        "scope": scope, "auth_time": auth_time, "sid": sid, "issued_at": now,
        "expires_at": now + timedelta(seconds=ttl), "spent_at": None,
    })


def store(db: Session, token: NewRefreshToken) -> None:
    """The first refresh token of a grant (the authorization code's)."""
    db.connection().execute(_INSERT, token.row)


def _one_statement(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def presented(db: Session, value: str) -> PresentedRefreshToken | None:
    """A refresh token as the refresh grant needs it: its row, its grant's state, its user, the login session's
    methods and the user's sole organization, in one query.

    On PostgreSQL a session that has not begun yet is put in autocommit for the refresh: the look-up needs no
    transaction and the rotation is one statement (a session that has begun, e.g. by a client look-up, keeps
    its transaction; the rotation is just as atomic inside it).
    """
    if not value or len(value) > MAX_LENGTH:
        return None
    if _one_statement(db) and not db.in_transaction():
        connection = db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    else:
        connection = db.connection()
    token_hash = digest(value)
    return _presented(connection.execute(_PRESENTED, {"token_hash": token_hash}).first(), token_hash)


async def presented_on_loop(held: LoopConnection, pg: LoopPostgres, value: str) -> PresentedRefreshToken | None:
    """``presented``, awaited on the event loop (``idp.loop_postgres``)."""
    if not value or len(value) > MAX_LENGTH:
        return None
    token_hash = digest(value)
    return _presented(await held.first(pg.statement(_PRESENTED), {"token_hash": token_hash}), token_hash)


def _presented(row: Any, token_hash: str) -> PresentedRefreshToken | None:
    if row is None:
        return None
    user = None
    if row.email is not None and not row.disabled:
        user = User(id=row.user_id, email=row.email, email_verified=row.email_verified, name=row.name,
                    disabled=False)
    return PresentedRefreshToken(
        token_hash=token_hash, grant_id=row.grant_id, client_id=row.client_id, scope=row.scope,
        auth_time=row.auth_time, sid=row.sid, expires_at=row.expires_at, spent=row.spent_at is not None,
        grant_active=row.grant_found is not None and row.revoked_at is None, user=user,
        session_methods=None if row.session_found is None else (row.amr, row.acr),
        sole_organization=row.first_organization if row.organizations == 1 else "",
    )


def rotate(db: Session, presented_hash: str, successor: NewRefreshToken, now: datetime) -> bool:
    """Spends the presented token and stores its successor, atomically. False when the presented token was
    spent already (by a concurrent use): then nothing is stored."""
    connection = db.connection()
    if _one_statement(db):
        inserted = connection.execute(_ROTATE_IN_ONE_STATEMENT, _rotation(presented_hash, successor, now))
        return bool(inserted.rowcount == 1)
    spent = connection.execute(_SPEND, {"presented": presented_hash, "spent": now})
    if spent.rowcount != 1:
        return False
    connection.execute(_INSERT, successor.row)
    return True


async def rotate_on_loop(held: LoopConnection, pg: LoopPostgres, presented_hash: str, successor: NewRefreshToken,
                         now: datetime) -> bool:
    """``rotate`` on PostgreSQL, awaited on the event loop: the same one statement."""
    return await held.rowcount(pg.statement(_ROTATE_IN_ONE_STATEMENT), _rotation(presented_hash, successor, now)) == 1


def _rotation(presented_hash: str, successor: NewRefreshToken, now: datetime) -> dict[str, Any]:
    parameters = {f"new_{name}": value for name, value in successor.row.items()}
    parameters.update(presented=presented_hash, spent=now)
    return parameters
