"""What the ASGI and WSGI middlewares share: the settings, reading the bearer token, and ``requires``."""

from __future__ import annotations

import contextvars
import fnmatch
import functools
import inspect
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from canary_resource.claims import AccessClaims
from canary_resource.errors import BearerError, ConfigurationError, InvalidToken, TokenMissing
from canary_resource.events import EventClient
from canary_resource.recording import DEFAULT_EXCLUDE, Recorder
from canary_resource.verifier import TokenVerifier

_current: contextvars.ContextVar[AccessClaims | None] = contextvars.ContextVar("canary_claims", default=None)
F = TypeVar("F", bound=Callable[..., Any])


def current_claims() -> AccessClaims | None:
    """The verified claims of the request being handled (None outside a request, or without a token)."""
    return _current.get()


def requires(*scopes: str) -> Callable[[F], F]:
    """Refuses the route unless the request's token has every one of ``scopes`` (403 insufficient_scope,
    401 without a token). Works on sync and async endpoints of Starlette, FastAPI and Flask behind the kit's
    middleware, which turns the raised BearerError into the RFC 6750 answer."""
    needed = tuple(s for scope in scopes for s in scope.split())

    def check() -> None:
        claims = _current.get()
        if claims is None:
            raise TokenMissing("an access token is required", scope=" ".join(needed))
        claims.require(needed)

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                check()
                return await func(*args, **kwargs)
            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check()
            return func(*args, **kwargs)
        return cast(F, wrapper)

    return decorate


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1); None when the request carries none: no
    header, or credentials of another scheme, which RFC 6750 §3.1 answers as a request without authentication
    (the bare challenge). ``Bearer`` without a token is InvalidToken."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    if not token.strip():
        raise InvalidToken("the Authorization header is 'Bearer' without a token")
    return token.strip()


class Guard:
    """The verifier, the recorder and which paths need a token, built from the middleware's arguments.

    ``issuer``, ``client_id`` and ``client_secret`` default to ``CANARY_ISSUER``, ``CANARY_CLIENT_ID`` and
    ``CANARY_CLIENT_SECRET``. The client credentials serve introspection (opaque tokens) and the event client;
    ``record_usage=True`` needs them.
    """

    def __init__(
        self, issuer: str | None = None, *, client_id: str | None = None, client_secret: str | None = None,
        audience: str | None = None, record_usage: bool = False, sample: float = 1.0,
        exclude: Iterable[str] = DEFAULT_EXCLUDE, public: Iterable[str] = (), require_token: bool = True,
        realm: str | None = None, verifier: TokenVerifier | None = None, events: EventClient | None = None,
        **verifier_options: Any,
    ) -> None:
        client_id = client_id or os.environ.get("CANARY_CLIENT_ID") or None
        client_secret = client_secret or os.environ.get("CANARY_CLIENT_SECRET") or None
        if verifier is None:
            issuer = issuer or os.environ.get("CANARY_ISSUER")
            if not issuer:
                raise ConfigurationError("the issuer is needed: pass issuer= or set CANARY_ISSUER")
            verifier = TokenVerifier(issuer, audience=audience, client_id=client_id, client_secret=client_secret,
                                     **verifier_options)
        self.verifier = verifier
        self.realm = realm
        self.public = tuple(public)
        self.require_token = require_token
        self.recorder: Recorder | None = None
        if record_usage:
            if events is None:
                if not client_id or not client_secret:
                    raise ConfigurationError("record_usage needs client_id and client_secret (or CANARY_CLIENT_ID "
                                             "and CANARY_CLIENT_SECRET) of a client with the events:write scope")
                events = EventClient(verifier.issuer, client_id, client_secret)
            self.recorder = Recorder(events, sample=sample, exclude=exclude)

    @property
    def events(self) -> EventClient | None:
        return self.recorder.events if self.recorder is not None else None

    def is_public(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.public)

    def error_headers(self, err: BearerError) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", err.www_authenticate(self.realm)), ("Cache-Control", "no-store")]

    def open(self) -> None:
        """Records again after ``close()`` (the ASGI middleware calls it at each lifespan startup)."""
        if self.recorder is not None:
            self.recorder.events.open()

    def close(self, timeout: float = 10.0) -> None:
        """Sends the queued events (for up to ``timeout`` seconds) and closes the connections to Canary that
        the kit opened. Tokens are still checked afterwards (new connections open when needed); events are
        recorded again after ``open()``."""
        if self.recorder is not None:
            self.recorder.events.close(timeout)
        self.verifier.close()
