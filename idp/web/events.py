"""POST /v1/events: usage events from resource servers, authorised by Canary access tokens.

A client_credentials token posts for accounts of the client's organization (any account for a first-party
client); a user's token, forwarded by a resource server, posts for that user only. 202 is answered only after
the events are in the durable local spool.

This is the busiest endpoint, so a request costs one SQL statement and no trip to a worker thread: the token's
signature and claims are checked on the event loop (a verified token's claims are kept for up to a minute, its
expiry checked on every use), and everything that needs the database — is the token revoked, its grant revoked
or its user disabled (``TokenService.verify_access_token``'s checks), does the client still exist, which
organizations the posting accounts belong to — is one statement after the body is validated. On the embedded
SQLite database its answer is kept for the same token and accounts until the file changes (idp.sqlite_reads),
so a steady stream of posts reads it once. The answers keep the order of the plain checks: a token problem
(401/403) before a body problem (413/400) before a refusal (403).
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.accounts.models import Membership, User
from idp.db import utcnow
from idp.oauth.errors import InsufficientScope, InvalidRequest, InvalidTokenError, OAuthError
from idp.oauth.models import Client, Grant, RevokedAccessToken
from idp.oauth.server import BodyTooLarge, read_body
from idp.oauth.tokens import InvalidToken, TokenService
from idp.sqlite_reads import CachedReads
from idp.web import bearer
from idp.web.context import Canary, canary
from idp.web.responses import bearer_error, json_error

SCOPE = "events:write"
MAX_BATCH_BYTES = 1024 * 1024
CLAIMS_CACHE_SECONDS = 60.0
CLAIMS_CACHE_SIZE = 4096


class Forbidden(OAuthError):
    error = "forbidden"
    status = 403


# --- the token ---------------------------------------------------------------------------------------------
# Verified claims per token string, per TokenService (one per provider in this process): the signature check
# costs more than the rest of a small request. Entries live CLAIMS_CACHE_SECONDS at most, so a signing key
# removed from the key store stops verifying within that time; expiry is checked on every use.
_claims: weakref.WeakKeyDictionary[TokenService, dict[str, tuple[dict[str, Any], float]]] = (
    weakref.WeakKeyDictionary())
_claims_lock = threading.Lock()


def verified_claims(c: Canary, token: str | None) -> dict[str, Any]:
    """The claims of a well-signed, unexpired access token with the events:write scope (no database look-up)."""
    if not token:
        raise InvalidTokenError("an access token is required")
    with _claims_lock:
        cache = _claims.setdefault(c.tokens, {})
    now = time.time()
    entry = cache.get(token)
    if entry is not None and entry[1] > now and entry[0]["exp"] > now:
        claims = entry[0]
    else:
        try:
            claims = c.tokens.decode(token)
        except InvalidToken as exc:
            cache.pop(token, None)
            raise InvalidTokenError(f"the access token is invalid: {exc}") from exc
        if len(cache) >= CLAIMS_CACHE_SIZE:
            cache.clear()
        cache[token] = (claims, now + CLAIMS_CACHE_SECONDS)
    if SCOPE not in str(claims.get("scope", "")).split():
        raise InsufficientScope(f"the access token lacks the {SCOPE!r} scope")
    return claims


# --- the one statement ---------------------------------------------------------------------------------------
def _table(model: type[Any]) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


@functools.lru_cache(maxsize=256)
def _statement(paramstyle: str, accounts: int, user_token: bool) -> str:
    """Token state, the client and the accounts' memberships in one row per membership (at least one row).

    Written for the DB-API directly: SQLAlchemy's expanding IN is compiled anew on every call, which cost more
    than the query itself.
    """
    p = "?" if paramstyle == "qmark" else "%s"
    clients, members, revoked, grants, users = (
        _table(model) for model in (Client, Membership, RevokedAccessToken, Grant, User))
    token_state = f"(SELECT COUNT(*) FROM {revoked.name} WHERE {revoked.c.jti.name} = {p})"
    if user_token:
        token_state += (
            f", (SELECT COUNT(*) FROM {grants.name} WHERE {grants.c.id.name} = {p}"
            f" AND {grants.c.revoked_at.name} IS NULL)"
            f", (SELECT COUNT(*) FROM {users.name} WHERE {users.c.id.name} = {p} AND NOT {users.c.disabled.name})"
        )
    else:
        token_state += ", 1, 1"
    on_accounts = f"m.{members.c.user_id.name} IN ({', '.join([p] * accounts)})" if accounts else "1 = 0"
    return (
        f"SELECT {token_state}, c.{clients.c.client_id.name}, c.{clients.c.first_party.name}, "
        f"c.{clients.c.organization_id.name}, m.{members.c.user_id.name}, m.{members.c.organization_id.name} "
        f"FROM (SELECT 1 AS one) AS base "
        f"LEFT JOIN {clients.name} AS c ON c.{clients.c.client_id.name} = {p} "
        f"LEFT JOIN {members.name} AS m ON {on_accounts}"
    )


def _look_up(c: Canary, claims: dict[str, Any], accounts: Sequence[str]) -> tuple[list[Any], dict[Any, Any]]:
    """The statement's rows, and a dict for what ``authorise`` decides from them (kept with cached rows)."""
    engine = c.factory.kw["bind"]
    user_token = "gid" in claims
    params: list[Any] = [str(claims.get("jti", ""))]
    if user_token:
        params += [claims["gid"], claims["sub"]]
    params.append(claims["client_id"])
    token_params = len(params)
    params += accounts
    sql = _statement(engine.dialect.paramstyle, len(accounts), user_token)
    try:
        if c.settings.embedded_database:
            # The same token posting for the same accounts gets the same rows until the file changes.
            key = (*params[:token_params], frozenset(accounts))
            return _cached_reads(engine).fetch(key, sql, params)
        # A pooled DB-API connection: SQLAlchemy's result processing cost more than the query itself.
        db = engine.raw_connection()
        try:
            cursor = db.cursor()
            try:
                cursor.execute(sql, params)
                return list(cursor.fetchall()), {}
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error:
            db.invalidate()
            raise
        finally:
            db.close()
    except engine.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, engine.dialect.loaded_dbapi.Error) from exc


_reads: weakref.WeakKeyDictionary[Any, CachedReads] = weakref.WeakKeyDictionary()


def _cached_reads(engine: Any) -> CachedReads:
    with _claims_lock:
        reads = _reads.get(engine)
        if reads is None:
            reads = _reads[engine] = CachedReads(engine)
    return reads


def _token_problem(row: Any) -> str | None:
    revoked, grant_active, user_enabled = row[0], row[1], row[2]
    if revoked or not grant_active:
        return "token revoked"
    if not user_enabled:
        return "account disabled"
    return None


# --- who may post for whom -----------------------------------------------------------------------------------
def authorise(claims: dict[str, Any], rows: list[Any], accounts: list[str], organizations: list[str],
              decided: dict[Any, str] | None = None) -> list[str]:
    """The organization to store with each event (given its account and posted organization), or Forbidden.

    ``decided`` keeps the decisions for the next request with the same token and rows (see ``_look_up``).
    """
    if rows[0][3] is None:
        raise Forbidden("the token's client no longer exists")
    # The outcome depends only on the account and the organization an event names: decided once per distinct
    # pair, in the order of their first events, so a refusal names the event that checking every event in
    # turn would name.
    if organizations.count("") == len(organizations):  # the common case: no event names its organization
        keys: list[Any] = accounts
        distinct = {account: (account, "") for account in accounts}
    else:
        keys = list(zip(accounts, organizations, strict=True))
        distinct = {key: key for key in keys}
    if decided is None:
        decided = {}
    new = [key for key in distinct if key not in decided]
    if new:
        first_party, client_org = bool(rows[0][4]), rows[0][5]
        orgs: dict[str, set[str]] = {}
        for row in rows:
            if row[6] is not None:
                orgs.setdefault(row[6], set()).add(row[7])
        user_token = "gid" in claims
        sub = claims["sub"] if user_token else None
        for key in new:
            account, posted = distinct[key]
            try:
                decided[key] = _organization(account, posted, orgs, user_token, sub, first_party, client_org)
            except Forbidden as refused:
                raise Forbidden(f"event {keys.index(key)}: {refused.description}") from None
    return list(map(decided.__getitem__, keys))


def _organization(account: str, posted: str, orgs: dict[str, set[str]], user_token: bool, sub: str | None,
                  first_party: bool, client_org: str | None) -> str:
    """The organization to store with an event about ``account`` that names ``posted`` ('' for none), or
    Forbidden."""
    if user_token and account != sub:
        raise Forbidden("a user's token may only post events about that user")
    member_of = orgs.get(account, set())
    if not user_token and not first_party and (client_org is None or client_org not in member_of):
        raise Forbidden(f"account {account!r} is not in this client's organization")
    organization = posted
    if organization:
        if organization not in member_of:
            raise Forbidden(f"account {account!r} is not a member of {organization!r}")
    elif not user_token and client_org in member_of:
        organization = client_org or ""
    elif len(member_of) == 1:
        organization = next(iter(member_of))
    if not user_token and not first_party and not member_of:
        raise Forbidden(f"unknown account {account!r}")
    return organization


# --- the endpoint --------------------------------------------------------------------------------------------
async def post_events(request: Request) -> Response:
    c = canary(request)
    if c.analytics is None:
        return json_error("temporarily_unavailable", "event ingest is not configured", 503)
    try:
        token = bearer.header_token(request)
        claims = verified_claims(c, token)
    except OAuthError as err:
        return _token_error(err)
    try:
        body = await read_body(request, MAX_BATCH_BYTES)
    except BodyTooLarge:
        try:  # a revoked token is still answered 401 first
            await c.run(bearer.verify, c, token, SCOPE)
        except OAuthError as err:
            return _token_error(err)
        return json_error("payload_too_large", f"a request may carry at most {MAX_BATCH_BYTES} bytes", 413)
    return await ingest(c, claims, body)


def _token_error(err: OAuthError) -> Response:
    if isinstance(err, InvalidRequest):
        return bearer_error("invalid_request", err.description, 400)
    if isinstance(err, InsufficientScope):
        return bearer_error(err.error, err.description, 403, scope=SCOPE)
    return bearer_error(err.error, err.description, err.status)


async def ingest(c: Canary, claims: dict[str, Any], body: bytes) -> Response:
    """The rest of POST /v1/events once the token's signature is checked and the body read.

    It runs on the event loop: decoding and validation are CPU work that a worker thread would only do under
    the same interpreter lock, and the spool append awaits its group commit without a thread. The look-up
    goes to a worker thread unless the accounts database is the embedded SQLite file (a local read that
    costs less than the trip).
    """
    from analytics.api import EventValidationError, SpoolFull, parse_body

    analytics = c.analytics
    assert analytics is not None
    default_account = claims["sub"] if "gid" in claims else None
    problem: Response | None = None
    posted = None
    try:
        posted = parse_body(body, default_account=default_account, client_id=claims["client_id"], now=utcnow(),
                            retention_days=c.settings.event_retention_days)
    except EventValidationError as err:
        problem = JSONResponse({"error": "invalid_request", "error_description": "some events are invalid; none "
                                "were accepted", "errors": err.errors}, status_code=400)
    except (ValueError, UnicodeDecodeError):
        problem = json_error("invalid_request", "the body must be a JSON object")
    accounts = list(dict.fromkeys(posted.accounts)) if posted is not None else []
    if c.settings.embedded_database:
        rows, decided = _look_up(c, claims, accounts)
    else:
        rows, decided = await c.run(_look_up, c, claims, accounts)
    revoked = _token_problem(rows[0])
    if revoked is not None:
        return _token_error(InvalidTokenError(f"the access token is invalid: {revoked}"))
    if problem is not None or posted is None:
        assert problem is not None
        return problem
    try:
        organizations = authorise(claims, rows, posted.accounts, posted.organizations, decided)
    except Forbidden as err:
        return json_error("forbidden", err.description, 403)
    try:
        accepted = await analytics.accept_posted(posted, organizations)
    except SpoolFull as full:
        return json_error("temporarily_unavailable", "the event buffer is full; retry later", 503,
                          {"Retry-After": str(int(getattr(full, "retry_after", 5)))})
    return JSONResponse({"accepted": accepted}, status_code=202)
