"""The authorization endpoint's decisions (OpenID Connect Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207).

``validate`` turns raw parameters into an ``AuthorizationRequest`` through the list of checks below, in order.
Until the client and its redirect URI are known to be good, errors are shown as a page (``ErrorPage``); after
that they go back to the client (``RedirectError``). ``decide`` then says what the user must do next: log in,
consent, or nothing — in which case ``issue_code`` ends the request with a code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.factors import levels
from idp.accounts.models import LoginSession
from idp.oauth.client_cache import ClientCache
from idp.oauth.keys import KeyStore
from idp.oauth.models import AuthorizationCode, Client, Consent, Grant
from idp.oauth.tokens import InvalidToken, audiences, decode_id_token_hint
from idp.opaque import digest, new_secret

PROMPTS = {"none", "login", "consent", "select_account"}
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
MAX_PARAM = 2048


@dataclass(frozen=True)
class ErrorPage:
    error: str
    description: str


@dataclass(frozen=True)
class RedirectError(Exception):
    redirect_uri: str
    error: str
    description: str
    state: str | None
    issuer: str


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    id_token_hint_sub: str | None
    params: dict[str, str] = field(default_factory=dict)
    # The known levels of ``acr_values`` (OIDC Core §3.1.2.1), in the request's order; unknown ones are ignored.
    acr_values: tuple[str, ...] = ()

    @property
    def redirect_uri_sent(self) -> bool:
        """False when ``redirect_uri`` is the client's only registered URI, taken because the request named none."""
        return "redirect_uri" in self.params

    def without_prompt(self, *names: str) -> AuthorizationRequest:
        """After the user has logged in (or consented) in this flow, that prompt is satisfied."""
        params = dict(self.params)
        prompt = self.prompt - set(names)
        if prompt:
            params["prompt"] = " ".join(sorted(prompt))
        else:
            params.pop("prompt", None)
        if "login" not in names:
            return replace(self, prompt=frozenset(prompt), params=params)
        params.pop("max_age", None)
        params.pop("id_token_hint", None)
        return replace(self, prompt=frozenset(prompt), params=params, max_age=None, id_token_hint_sub=None)


@dataclass(frozen=True)
class NeedLogin:
    request: AuthorizationRequest


@dataclass(frozen=True)
class NeedConsent:
    request: AuthorizationRequest
    scopes: list[str]


@dataclass(frozen=True)
class Ready:
    request: AuthorizationRequest


Decision = NeedLogin | NeedConsent | Ready


def redirect_with(uri: str, params: Mapping[str, str | None]) -> str:
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class Validator:
    """Runs the checks in ``CHECKS`` order over one request's parameters."""

    def __init__(self, db: Session, issuer: str, keys: KeyStore, clients: ClientCache | None = None) -> None:
        self.db = db
        self.issuer = issuer
        self.keys = keys
        self.clients = clients

    def validate(self, params: Mapping[str, str]) -> AuthorizationRequest | ErrorPage:
        for name, value in params.items():
            if len(value) > MAX_PARAM:
                return ErrorPage("invalid_request", f"parameter {name!r} is too long")
        client_id = params.get("client_id", "")
        client = self._client(client_id) if client_id and len(client_id) <= 64 else None
        if client is None or client.disabled:
            return ErrorPage("invalid_client", "unknown client_id" if client_id else "client_id is missing")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None:
            redirect_uri = client.get_default_redirect_uri()
            if redirect_uri is None:
                return ErrorPage("invalid_request", "redirect_uri is required: the client registered several")
        elif not client.check_redirect_uri(redirect_uri):
            return ErrorPage("invalid_request", "redirect_uri is not registered for this client")

        state = params.get("state")

        def fail(error: str, description: str) -> RedirectError:
            return RedirectError(redirect_uri, error, description, state, self.issuer)

        for check in CHECKS:
            check(self, client, params, fail)

        prompt = frozenset(params.get("prompt", "").split())
        requested = list(dict.fromkeys(params.get("scope", "").split()))
        granted = [s for s in requested if s in client.allowed_scopes()]
        return AuthorizationRequest(
            client=client, redirect_uri=redirect_uri, scope=" ".join(granted), state=state,
            nonce=params.get("nonce"), code_challenge=params.get("code_challenge"), prompt=prompt,
            max_age=int(params["max_age"]) if params.get("max_age") else None,
            login_hint=params.get("login_hint"),
            id_token_hint_sub=self._hint_subject(params.get("id_token_hint"), client, fail),
            params=dict(params), acr_values=tuple(levels.requested(params.get("acr_values"))),
        )

    def _client(self, client_id: str) -> Client | None:
        return self.clients.get(self.db, client_id) if self.clients is not None else self.db.get(Client, client_id)

    def _hint_subject(self, hint: str | None, client: Client, fail: Callable[[str, str], RedirectError]) -> str | None:
        if not hint:
            return None
        try:
            claims = decode_id_token_hint(self.keys, self.issuer, hint)
        except InvalidToken as exc:
            raise fail("invalid_request", str(exc)) from exc
        if client.client_id not in audiences(claims):
            raise fail("invalid_request", "id_token_hint was not issued to this client")
        return str(claims["sub"])


Fail = Callable[[str, str], RedirectError]


def check_response_type(_: Validator, client: Client, params: Mapping[str, str], fail: Fail) -> None:
    response_type = params.get("response_type")
    if not response_type:
        raise fail("invalid_request", "response_type is missing")
    if response_type != "code":
        raise fail("unsupported_response_type", "only response_type=code is supported")
    if not client.check_response_type("code"):
        raise fail("unauthorized_client", "this client may not use the authorization code flow")


def check_scope(_: Validator, client: Client, params: Mapping[str, str], fail: Fail) -> None:
    requested = params.get("scope", "").split()
    if not requested:
        raise fail("invalid_scope", "scope is missing")
    if "openid" in requested and "openid" not in client.allowed_scopes():
        raise fail("invalid_scope", "this client may not request openid")
    if not any(s in client.allowed_scopes() for s in requested):
        raise fail("invalid_scope", "none of the requested scopes is allowed for this client")


def check_pkce(_: Validator, client: Client, params: Mapping[str, str], fail: Fail) -> None:
    """RFC 7636 §4.3: S256 only; public clients must send a challenge."""
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise fail("invalid_request", "code_challenge_method without code_challenge")
        if client.is_public:
            raise fail("invalid_request", "PKCE is required for public clients: send code_challenge (S256)")
        return
    if method != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not _CHALLENGE.match(challenge):
        raise fail("invalid_request", "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]")


def check_prompt(_: Validator, client: Client, params: Mapping[str, str], fail: Fail) -> None:
    prompt = set(params.get("prompt", "").split())
    if prompt - PROMPTS:
        raise fail("invalid_request", f"unknown prompt value(s): {' '.join(sorted(prompt - PROMPTS))}")
    if "none" in prompt and len(prompt) > 1:
        raise fail("invalid_request", "prompt=none cannot be combined with other values")


def check_max_age(_: Validator, client: Client, params: Mapping[str, str], fail: Fail) -> None:
    raw = params.get("max_age")
    if raw is not None and (not raw.isdigit() or len(raw) > 10):
        raise fail("invalid_request", "max_age must be a non-negative integer")


def check_unsupported_features(_: Validator, client: Client, params: Mapping[str, str], fail: Fail) -> None:
    if "request" in params:
        raise fail("request_not_supported", "request objects are not supported")
    if "request_uri" in params:
        raise fail("request_uri_not_supported", "request_uri is not supported")
    mode = params.get("response_mode")
    if mode not in (None, "query"):
        raise fail("invalid_request", "only response_mode=query is supported")


# The authorization request pipeline, in order (after client and redirect_uri are established).
CHECKS: list[Callable[[Validator, Client, Mapping[str, str], Fail], None]] = [
    check_unsupported_features,
    check_response_type,
    check_scope,
    check_pkce,
    check_prompt,
    check_max_age,
]


def decide(
    db: Session, request: AuthorizationRequest, session: LoginSession | None, now: datetime,
    *, consented: bool = False,
) -> Decision:
    """What stands between this request and a code at ``now``: a login, a consent, or nothing."""
    needs_login = (
        session is None
        or "login" in request.prompt
        or (request.max_age is not None and (now - session.auth_time).total_seconds() > request.max_age)
        or (request.id_token_hint_sub is not None and request.id_token_hint_sub != session.user_id)
        or not levels.satisfies(session.acr, request.acr_values)  # step-up
    )
    if needs_login:
        if "none" in request.prompt:
            raise RedirectError(request.redirect_uri, "login_required", "the user must log in",
                                request.state, "")
        return NeedLogin(request)
    assert session is not None
    if consented:
        return Ready(request)
    # An explicit prompt=consent is asked of every client; otherwise first-party clients need no consent.
    if "consent" in request.prompt or (not request.client.first_party
                                       and missing_consent(db, session.user_id, request)):
        if "none" in request.prompt:
            raise RedirectError(request.redirect_uri, "consent_required", "the user must consent",
                                request.state, "")
        return NeedConsent(request, request.scope.split())
    return Ready(request)


def missing_consent(db: Session, user_id: str, request: AuthorizationRequest) -> list[str]:
    granted = db.scalar(select(Consent.scope).where(Consent.user_id == user_id,
                                                    Consent.client_id == request.client.client_id))
    have = set((granted or "").split())
    return [s for s in request.scope.split() if s not in have]


def record_consent(db: Session, user_id: str, request: AuthorizationRequest, now: datetime) -> None:
    row = db.scalar(select(Consent).where(Consent.user_id == user_id,
                                          Consent.client_id == request.client.client_id))
    if row is None:
        db.add(Consent(user_id=user_id, client_id=request.client.client_id, scope=request.scope,
                       granted_at=now))
    else:
        row.scope = " ".join(dict.fromkeys(row.scope.split() + request.scope.split()))
        row.granted_at = now


def issue_code(
    db: Session, request: AuthorizationRequest, session: LoginSession, issuer: str, ttl: int, now: datetime,
) -> str:
    """Create the code (≥ 256 bits, stored hashed, single use, bound to everything below) and the redirect."""
    code = new_secret()
    grant = Grant(id=new_secret(16), client_id=request.client.client_id, user_id=session.user_id, created_at=now)
    db.add(grant)
    db.flush()  # the code refers to the grant
    db.add(AuthorizationCode(
        code_hash=digest(code), grant_id=grant.id, client_id=request.client.client_id, user_id=session.user_id,
        redirect_uri=request.redirect_uri, redirect_uri_sent=request.redirect_uri_sent, scope=request.scope,
        nonce=request.nonce, code_challenge=request.code_challenge,
        code_challenge_method="S256" if request.code_challenge else None,
        auth_time=session.auth_time, sid=session.sid, expires_at=now + timedelta(seconds=ttl),
    ))
    return redirect_with(request.redirect_uri, {"code": code, "state": request.state, "iss": issuer})


def error_redirect(err: RedirectError, issuer: str) -> str:
    return redirect_with(err.redirect_uri, {"error": err.error, "error_description": err.description,
                                            "state": err.state, "iss": issuer})
