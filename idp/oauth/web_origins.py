"""Web origins: where browser applications that may call the token, UserInfo and revocation endpoints
cross-origin (CORS) are served from.

An origin (RFC 6454: scheme, host and port) is allowed when some enabled client has a redirect URI there, as
Keycloak's "+" web origin allows a client's redirect URIs' origins: a single-page application is registered by
its redirect URI, and nothing else needs configuring. The browser never sends credentials (cookies) along:
what it may read is only what the application's own code, PKCE verifier or bearer token already entitles it to.

The set is read from the database and kept for ``ttl`` seconds (``CANARY_CACHE_SECONDS``; 0 reads it for every
question): a client registered or changed is allowed within that long, in every process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.oauth.models import Client

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(uri: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URI as a browser sends it in ``Origin`` (default port left out),
    or None for other schemes (a native application's custom scheme has no web origin)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def origins(redirect_uris: Iterable[str]) -> set[str]:
    return {origin for origin in map(origin_of, redirect_uris) if origin is not None}


class WebOrigins:
    def __init__(self, factory: sessionmaker[Session], ttl: float, clock: Callable[[], float]) -> None:
        self._factory = factory
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._known: tuple[float, frozenset[str]] | None = None  # (valid until, origins)

    def cached(self) -> frozenset[str] | None:
        """The allowed origins if known without the database now, else None."""
        known = self._known
        return known[1] if known is not None and known[0] > self._clock() else None

    def load(self) -> frozenset[str]:
        """The allowed origins, read from the database (blocking: call it off the event loop)."""
        with self._factory() as db:
            rows = db.scalars(select(Client.redirect_uris).where(Client.disabled.is_(False)))
            found = frozenset(origin for uris in rows for origin in origins(uris or ()))
        if self.ttl > 0:
            with self._lock:
                self._known = (self._clock() + self.ttl, found)
        return found
