"""The resource-access service: one owner of "is this access token usable" and "may it post these events".

Built once per application (``idp.app.build_context``) and shared by every place that accepts Canary's access
tokens: the events endpoint, UserInfo, the admin API and introspection. It holds the caches of the events
endpoint's hot path: verified claims (``ClaimsCache``) and, on the embedded SQLite database, the look-up's
answers until the file changes (``idp.sqlite_reads``), with the posting decisions derived from each answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from idp.oauth.errors import InsufficientScope, InvalidTokenError
from idp.oauth.resource_access import posting, state
from idp.oauth.resource_access.claims_cache import ClaimsCache
from idp.oauth.resource_access.state import Unusable
from idp.oauth.tokens import InvalidToken, TokenService
from idp.sqlite_reads import CachedReads

Answer = tuple[list[Any], dict[Any, Any]]


def invalid(reason: object) -> InvalidTokenError:
    return InvalidTokenError(f"the access token is invalid: {reason}")


class Posting:
    """The look-up's answer for one token posting events about some accounts."""

    __slots__ = ("claims", "decided", "rows")

    def __init__(self, claims: dict[str, Any], rows: list[Any], decided: dict[Any, Any]) -> None:
        self.claims = claims
        self.rows = rows
        self.decided = decided

    def check_token(self) -> None:
        """InvalidTokenError when the token is revoked or its account disabled.

        A client that no longer exists is a refusal of the posting (``organizations``), answered after the
        body's own problems, as the events endpoint always has.
        """
        unusable = state.problem(self.rows[0])
        if unusable is not None and unusable is not Unusable.CLIENT_GONE:
            raise invalid(unusable.value)

    def resolve(self, accounts: list[str], posted: list[str]) -> tuple[list[str], list[str]]:
        """The account id and the organization id to store with each event (``accounts`` and ``posted`` are
        what each event names, '' for no organization), or UnknownAccounts, or Forbidden
        (``idp.oauth.resource_access.posting``)."""
        return posting.resolve(self.claims, self.rows, accounts, posted, self.decided)


class ResourceAccess:
    def __init__(self, tokens: TokenService, engine: Engine, *, embedded: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self._tokens = tokens
        self._engine = engine
        self._paramstyle = engine.dialect.paramstyle
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._claims = ClaimsCache(tokens.decode, clock=clock)
        # On the embedded database the look-up is a local read that costs less than a trip to a worker thread.
        self.local = embedded
        self._reads = CachedReads(engine) if embedded else None

    # --- the token -------------------------------------------------------------------------------------------
    def claims(self, token: str | None, scope: str) -> dict[str, Any]:
        """The claims of a well-signed, unexpired access token with ``scope``, without a database look-up.

        Verified claims are kept for a while (``ClaimsCache``); the token's state is the look-up's job
        (``posting``).
        """
        if not token:
            raise InvalidTokenError("an access token is required")
        try:
            claims = self._claims.claims(token)
        except InvalidToken as exc:
            raise invalid(exc) from exc
        if scope not in str(claims.get("scope", "")).split():
            raise InsufficientScope(f"the access token lacks the {scope!r} scope")
        return claims

    def verify(self, token: str | None, scope: str | None = None, db: Session | None = None) -> dict[str, Any]:
        """A usable access token's claims (signature, expiry, the usability rule of ``state``, then ``scope``),
        or InvalidTokenError / InsufficientScope.

        ``db``: the caller's session, whose connection the look-up then uses.
        """
        if not token:
            raise InvalidTokenError("an access token is required")
        try:
            claims = self._tokens.decode(token)
        except InvalidToken as exc:
            raise invalid(exc) from exc
        unusable = state.problem(self._look_up(claims, (), db)[0][0])
        if unusable is Unusable.CLIENT_GONE:
            raise InvalidTokenError(unusable.value)
        if unusable is not None:
            raise invalid(unusable.value)
        if scope is not None and scope not in str(claims.get("scope", "")).split():
            raise InsufficientScope(f"the access token lacks the {scope!r} scope")
        return claims

    # --- posting events ------------------------------------------------------------------------------------
    def posting(self, claims: dict[str, Any], accounts: Sequence[str]) -> Posting:
        """The token's state and the memberships of ``accounts`` (distinct), in one statement.

        Blocking: call it on the event loop only when ``local``.
        """
        rows, decided = self._look_up(claims, accounts, cached=self.local)
        return Posting(claims, rows, decided)

    # --- the one statement ---------------------------------------------------------------------------------
    def _look_up(self, claims: dict[str, Any], accounts: Sequence[str], db: Session | None = None,
                 cached: bool = False) -> Answer:
        """The statement's rows, and a dict for what is decided from them (kept with cached rows).

        ``cached``: on the embedded database, the same token asking about the same accounts gets the same rows
        until the file changes (``CachedReads``: a connection of its own per thread, so it is used by the events
        endpoint, which asks on the event loop, and nowhere else).
        """
        params, token_params, emails = state.parameters(claims, accounts)
        sql = state.statement(self._paramstyle, len(accounts), "gid" in claims, emails)
        try:
            if cached and self._reads is not None:
                return self._reads.fetch((*params[:token_params], frozenset(accounts)), sql, params)
            if db is not None:
                return self._execute(db.connection().connection, sql, params), {}
            # A pooled DB-API connection: SQLAlchemy's result processing cost more than the query itself.
            connection = self._engine.raw_connection()
            try:
                return self._execute(connection, sql, params), {}
            except self._dbapi_error:
                connection.invalidate()
                raise
            finally:
                connection.close()
        except self._dbapi_error as exc:
            raise DBAPIError.instance(sql, params, exc, self._dbapi_error) from exc

    @staticmethod
    def _execute(connection: Any, sql: str, params: list[Any]) -> list[Any]:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()
