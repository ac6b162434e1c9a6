"""The one place where Starlette meets Authlib.

An incoming Starlette request is read asynchronously (size-limited, url-encoded form, repeated parameters
refused), turned into an Authlib ``OAuth2Request`` that opens a synchronous SQLAlchemy session when first asked,
and the synchronous grant code runs in Starlette's threadpool, or on the event loop where it cannot make the loop
wait (a cached client's ``client_credentials``; a refresh on SQLite, ``idp.loop_sessions``; a refresh on
PostgreSQL, its two statements awaited around the grant, ``idp.loop_postgres``). Authlib's
``(status, body, headers)`` result becomes a Starlette JSON response (rendered by orjson).
"""

from __future__ import annotations

import base64
import contextvars
import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, unquote_plus

import orjson
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from idp.db import WouldWait
from idp.loop_postgres import LoopPostgres, Unavailable
from idp.loop_sessions import LoopSessions
from idp.oauth import refresh_tokens
from idp.oauth.authlib_compat import BareOAuth2Request, validate_client
from idp.oauth.client_cache import ClientCache
from idp.oauth.errors import InvalidRequest
from idp.oauth.grants import (
    PKCE,
    ActivityHook,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    OpenIDConnect,
    RefreshTokenGrant,
    TokenReporter,
)
from idp.oauth.introspection import Introspection, Revocation
from idp.oauth.models import Client
from idp.oauth.refresh_tokens import NewRefreshToken, PresentedRefreshToken
from idp.oauth.resource_access import ResourceAccess
from idp.oauth.tokens import TokenService

FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 200
log = logging.getLogger("canary.oauth")

# Descriptions for the errors Authlib raises without one (RFC 6749 §5.2 names).
DESCRIPTIONS = {
    "invalid_request": "the request is missing a parameter or is malformed",
    "invalid_client": "the client credentials are invalid: unknown client_id or wrong client_secret",
    "invalid_grant": "the code or refresh token is invalid, expired, revoked or was issued to another client",
    "unauthorized_client": "this client may not use this grant type",
    "unsupported_grant_type": "grant_type is missing or not supported",
    "invalid_scope": "the requested scope is invalid or exceeds what was granted",
}


class OAuthJSONResponse(JSONResponse):
    """Starlette's JSON response, rendered by orjson: the standard library's encoder was a twentieth of a
    ``client_credentials`` request. Bodies here are Authlib's plain dicts of strings and numbers."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # what orjson refuses (integers beyond 64 bits, non-string keys), the standard way
            return super().render(content)


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge(f"request body larger than {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_form(body: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded; RFC 6749 §3.1: parameters must not repeat.

    ``urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=200)``, written out: the same pairs
    (a name without ``=`` has the value ""; bad percent-escapes decode to U+FFFD), and names and values
    without ``%`` or ``+`` are taken as they are.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the form body is not valid UTF-8 url-encoded data") from exc
    if text.count("&") >= MAX_FORM_FIELDS:
        raise InvalidRequest("the form body is not valid UTF-8 url-encoded data")
    form: dict[str, str] = {}
    for field in text.split("&"):
        if not field:
            continue
        key, _, value = field.partition("=")
        if "%" in key or "+" in key:
            key = unquote(key.replace("+", " "))
        if "%" in value or "+" in value:
            value = unquote(value.replace("+", " "))
        if key in form:
            raise InvalidRequest(f"parameter {key!r} is repeated")
        if "\x00" in value:
            raise InvalidRequest(f"parameter {key!r} contains a NUL character")
        form[key] = value
    return form


async def read_form(request: Request, limit: int, *, require_type: bool = True) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if require_type and content_type != FORM:
        raise InvalidRequest(f"the body must be {FORM}")
    return parse_form(await read_body(request, limit))


class CanaryRequest(BareOAuth2Request):  # type: ignore[misc]
    """Authlib's request with its form and the request's database session, opened on first use.

    Authlib's own constructor refuses plain-http URIs outside its error handling (a 500); transport security
    is Canary's settings' job (plain http only for a localhost issuer), so it is not called
    (``idp.oauth.authlib_compat``). A ``client_credentials`` request from a cached client never opens a
    session: creating and closing one was a twentieth of such a request.
    """

    def __init__(self, method: str, uri: str, headers: dict[str, str], form: dict[str, str],
                 sessions: Callable[[], Session]) -> None:
        super().__init__(method, uri, headers, BasicOAuth2Payload(form))
        self._form = form
        self._sessions = sessions
        self._db: Session | None = None
        self.after_commit: list[Callable[[], None]] = []  # run once the response's transaction is committed
        # A refresh on PostgreSQL served on the event loop: the presented token, read before the grant ran, and the
        # rotation the grant leaves to the server (presented token's digest, successor) instead of making it.
        self.prefetched: PresentedRefreshToken | None = None
        self.rotation: tuple[str, NewRefreshToken] | None = None

    @property
    def db(self) -> Session:
        if self._db is None:
            self._db = self._sessions()
        return self._db

    @property
    def opened_db(self) -> Session | None:
        """The session if this request has opened one."""
        return self._db

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: id and secret are form-url-encoded before base64 (so '+' means a space)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64, not ASCII to begin with, or not UTF-8 once decoded
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client_secret_basic(query_client: Callable[[str], Client | None], request: Any) -> Client | None:
    credentials = basic_credentials(request.headers.get("authorization", ""))
    if credentials is None:
        return None
    client: Client = validate_client(query_client, credentials[0], 401)
    return client if client.check_client_secret(credentials[1]) else None


class CanaryAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, factory: sessionmaker[Session], tokens: TokenService, access: ResourceAccess, max_body: int,
                 on_token: TokenReporter, clients: ClientCache, on_loop: LoopSessions | None = None,
                 loop_postgres: LoopPostgres | None = None) -> None:
        super().__init__(scopes_supported=None)
        self.factory = factory
        self.on_loop = on_loop
        self.loop_postgres = loop_postgres
        self.tokens = tokens
        self.access = access
        self.max_body = max_body
        self.clients = clients
        activity = ActivityHook(on_token)
        self.register_grant(AuthorizationCodeGrant, [PKCE(required=True), OpenIDConnect(), activity])
        self.register_grant(RefreshTokenGrant, [OpenIDConnect(), activity])
        self.register_grant(ClientCredentialsGrant, [activity])
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        self.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
        self._db: Session | None = None

    # --- Authlib's framework hooks ----------------------------------------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 64:
            return None
        cached = self.clients.peek(client_id)
        return cached if cached is not None else self.clients.get(_current_request().db, client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Tokens are persisted (or, for JWT access tokens, need nothing) when they are generated."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Signals are not used: extensions hook into grants instead."""

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        out = dict(headers)
        if isinstance(body, dict) and "error" in body and (
                not body.get("error_description") or body["error"] == "invalid_client"):
            # Authlib's invalid_client text lists the methods tried, which reads as a configuration problem:
            # say that the credentials were refused, in the body and in the challenge alike.
            body["error_description"] = DESCRIPTIONS.get(body["error"], "the request was refused")
            challenge = next((name for name in out if name.lower() == "www-authenticate"), None)
            if challenge is not None:
                out[challenge] = (f'Basic realm="canary", error="{body["error"]}", '
                                  f'error_description="{body["error_description"]}"')
        return status, body, out

    # --- the Starlette side ------------------------------------------------------------------------------
    async def respond(self, request: Request, endpoint: str | None,
                      form: dict[str, str] | None = None) -> OAuthJSONResponse:
        """``endpoint`` None is the token endpoint; otherwise "introspection" or "revocation". ``form``: the body,
        when the caller has read it already (``read_form``).

        The request's URI is its path: nothing here reads the full URL (it would be the audience of JWT client
        authentication, which Canary does not offer), and building it was a sixtieth of a token request.
        """
        if form is None:
            form = await read_form(request, self.max_body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers["Authorization"] = headers.get("authorization", "")
        path = request.scope["path"]
        if endpoint is None and self._needs_no_database(form, headers["Authorization"]):
            # Pure CPU work (Authlib, one signature): running it here saves the thread hand-off, which cost
            # more than a third of such a request.
            status, body, out_headers = self._run(endpoint, path, headers, form, self.factory)
        elif (endpoint is None and form.get("grant_type") == "refresh_token" and self.on_loop is not None
              and self.on_loop.available()):
            # Short, and never waiting on the loop (idp.loop_sessions): the hand-off to the thread pool and back
            # cost 0.15 to 0.4 ms of a refresh's 1.6 to 2 ms of server CPU.
            try:
                status, body, out_headers = await self.on_loop.run(
                    functools.partial(self._run, endpoint, path, headers, form))
            except WouldWait:  # a write lock held elsewhere: nothing was written; wait for it in a thread
                status, body, out_headers = await run_in_threadpool(self._run, endpoint, path, headers, form,
                                                                    self.factory)
        elif (endpoint is None and form.get("grant_type") == "refresh_token" and self.loop_postgres is not None
              and (served := await self._refresh_on_loop(self.loop_postgres, path, headers, form)) is not None):
            status, body, out_headers = served
        else:
            status, body, out_headers = await run_in_threadpool(self._run, endpoint, path, headers, form,
                                                                self.factory)
        if status == 401 and "www-authenticate" not in {k.lower() for k in out_headers}:
            out_headers["WWW-Authenticate"] = 'Basic realm="canary"'
        return OAuthJSONResponse(body, status_code=status, headers=out_headers)

    def _needs_no_database(self, form: dict[str, str], authorization: str) -> bool:
        """A client_credentials request from a client in the cache touches no database."""
        if form.get("grant_type") != "client_credentials":
            return False
        credentials = basic_credentials(authorization)
        client_id = credentials[0] if credentials is not None else form.get("client_id", "")
        return self.clients.has(client_id)

    async def _refresh_on_loop(self, pg: LoopPostgres, uri: str, headers: dict[str, str],
                               form: dict[str, str]) -> tuple[int, Any, dict[str, str]] | None:
        """A refresh on PostgreSQL with its two statements awaited here (``idp.loop_postgres``): the look-up, the
        grant's synchronous part with no database (Authlib, both signatures), then the rotation.

        None, with nothing written, when the thread pool must serve it instead: no connection could be had, the
        token is not one to rotate (unknown, expired, revoked, or spent: a replay revokes its family there), or
        the grant needed the database (a client not in the cache).
        """
        try:
            async with pg.connection() as held:
                prefetched = await refresh_tokens.presented_on_loop(held, pg, form.get("refresh_token", ""))
                if prefetched is None or not prefetched.usable(self.tokens.clock.now()):
                    return None
                request = CanaryRequest("POST", uri, headers, form, _no_database)
                request.prefetched = prefetched
                handling = _handling.set(request)
                try:
                    result: tuple[int, Any, dict[str, str]] = self.create_token_response(request)
                except WouldWait:
                    return None
                finally:
                    _handling.reset(handling)
                if not 200 <= result[0] < 300 or request.rotation is None:
                    return result
                rotated = await refresh_tokens.rotate_on_loop(held, pg, *request.rotation, self.tokens.clock.now())
        except Unavailable:
            return None
        if not rotated:  # a concurrent use spent it first: the same reuse the grant revokes the family for
            await run_in_threadpool(self._revoke_family, prefetched.grant_id)
            refused: tuple[int, Any, dict[str, str]] = self.handle_error_response(request, InvalidGrantError(
                "refresh token was already used; the token family is revoked"))
            return refused
        for callback in request.after_commit:
            _run_safely(callback)
        return result

    def _revoke_family(self, grant_id: str) -> None:
        with self.factory() as db:
            self.tokens.revoke_grant(db, grant_id)
            db.commit()

    def _run(self, endpoint: str | None, uri: str, headers: dict[str, str], form: dict[str, str],
             sessions: sessionmaker[Session]) -> tuple[int, Any, dict[str, str]]:
        request = CanaryRequest("POST", uri, headers, form, sessions)
        handling = _handling.set(request)
        try:
            if endpoint is None:
                result: tuple[int, Any, dict[str, str]] = self.create_token_response(request)
            else:
                result = self.create_endpoint_response(endpoint, request)
            db = request.opened_db
            if 200 <= result[0] < 300:
                if db is not None and db.in_transaction():
                    db.commit()
                for callback in request.after_commit:
                    _run_safely(callback)
            elif db is not None:
                db.rollback()
            return result
        finally:
            _handling.reset(handling)
            if request.opened_db is not None:
                request.opened_db.close()


def _no_database() -> Session:
    """The session factory of a refresh served on the loop with PostgreSQL: the grant must not need one there."""
    raise WouldWait("this request needs the database: it is served in the thread pool")


def _run_safely(callback: Callable[[], None]) -> None:
    """What runs after the commit (usage events) must not turn an issued token into an error."""
    try:
        callback()
    except Exception:
        log.exception("after-commit callback failed")


# The request being handled (Authlib's query_client gets no request). A context variable, not a thread's: requests
# handled on the loop's thread (idp.loop_sessions) each run in their own task's context.
_handling: contextvars.ContextVar[CanaryRequest | None] = contextvars.ContextVar("token_request", default=None)


def _current_request() -> CanaryRequest:
    request = _handling.get()
    if request is None:
        raise RuntimeError("no token request is being handled here")
    return request
