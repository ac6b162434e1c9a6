"""The issuer's metadata (OpenID Connect Discovery 1.0 §4, RFC 8414 §3), fetched once and kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from canary_resource.connections import Connections
from canary_resource.errors import CanaryError, ConfigurationError, Unavailable

WELL_KNOWN = "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class Metadata:
    issuer: str
    jwks_uri: str
    token_endpoint: str
    introspection_endpoint: str | None
    events_endpoint: str


class Discovery:
    """Fetches ``issuer``'s discovery document on first use.

    A failed fetch is tried again on a later use, at most once per ``retry_interval`` seconds: in between, and
    for the callers that waited while it failed, its error is the answer. While Canary cannot be reached, many
    requests at once make one call to it, not one each.
    """

    def __init__(self, issuer: str, http: Connections, *, retry_interval: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer.rstrip("/")
        self._http = http
        self.retry_interval = retry_interval
        self._monotonic = monotonic
        self._metadata: Metadata | None = None
        self._failure: CanaryError | None = None
        self._failed_at = 0.0
        self._attempts = 0
        self._lock = threading.Lock()

    def get(self) -> Metadata:
        metadata = self._metadata
        if metadata is not None:
            return metadata
        seen = self._attempts
        with self._lock:
            if self._metadata is None:
                failure = self._failure
                # A fetch that ended while this caller waited for the lock is its answer too.
                if failure is None or (self._attempts == seen
                                       and self._monotonic() - self._failed_at >= self.retry_interval):
                    failure = self._attempt()
                if failure is not None:
                    raise type(failure)(str(failure))
            assert self._metadata is not None
            return self._metadata

    def _attempt(self) -> CanaryError | None:
        try:
            self._metadata = self._fetch()
            self._failure = None
        except CanaryError as exc:
            self._failure = exc
            self._failed_at = self._monotonic()
        finally:
            self._attempts += 1
        return self._failure

    @property
    def known(self) -> bool:
        return self._metadata is not None

    def _fetch(self) -> Metadata:
        try:
            response = self._http.get(self.issuer + WELL_KNOWN)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the issuer's discovery document cannot be fetched: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"the issuer's discovery document answered {response.status_code}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise ConfigurationError("the issuer's discovery document is not JSON") from exc
        # Discovery 1.0 §4.3: the issuer in the document must be exactly the one asked for.
        if body.get("issuer") != self.issuer:
            raise ConfigurationError(f"discovery names the issuer {body.get('issuer')!r}, not {self.issuer!r}")
        jwks_uri, token_endpoint = body.get("jwks_uri"), body.get("token_endpoint")
        if not isinstance(jwks_uri, str) or not isinstance(token_endpoint, str):
            raise ConfigurationError("the discovery document lacks jwks_uri or token_endpoint")
        introspection = body.get("introspection_endpoint")
        return Metadata(issuer=self.issuer, jwks_uri=jwks_uri, token_endpoint=token_endpoint,
                        introspection_endpoint=introspection if isinstance(introspection, str) else None,
                        events_endpoint=self.issuer + "/v1/events")
