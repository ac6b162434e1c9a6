"""Refresh-token families made straight in the database, for the rotation tests on both paths (the thread pool's
and the event loop's)."""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from sqlalchemy import select

from idp.accounts.models import User
from idp.db import transaction, utcnow
from idp.oauth import refresh_tokens
from idp.oauth.models import Grant, RefreshToken
from idp.oauth.refresh_tokens import NewRefreshToken


class ProviderWithDatabase(Protocol):
    context: Any

    def client(self, **kwargs: Any) -> tuple[str, str | None]: ...

    def user(self) -> User: ...


def first_token(provider: ProviderWithDatabase) -> tuple[NewRefreshToken, str | None]:
    """A grant's first refresh token, with its client's secret."""
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    now = utcnow()
    with transaction(provider.context.factory) as db:
        grant = Grant(id=secrets.token_hex(16), client_id=client_id, user_id=user.id)
        db.add(grant)
        db.flush()
        token = refresh_tokens.new_refresh_token(grant_id=grant.id, client_id=client_id, user_id=user.id,
                                                 scope="openid offline_access", auth_time=now, sid=None, now=now,
                                                 ttl=3600)
        refresh_tokens.store(db, token)
    return token, secret


def successor_of(token: NewRefreshToken) -> NewRefreshToken:
    row = token.row
    return refresh_tokens.new_refresh_token(grant_id=row["grant_id"], client_id=row["client_id"],
                                            user_id=row["user_id"], scope=row["scope"], auth_time=row["auth_time"],
                                            sid=None, now=utcnow(), ttl=3600)


def family(provider: ProviderWithDatabase, grant_id: str) -> dict[str, bool]:
    """token hash -> spent, for every refresh token of the grant."""
    with provider.context.factory() as db:
        rows = db.execute(select(RefreshToken.token_hash, RefreshToken.spent_at)
                          .where(RefreshToken.grant_id == grant_id)).all()
    return {r.token_hash: r.spent_at is not None for r in rows}
