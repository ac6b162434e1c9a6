"""The issuer's metadata (OpenID Connect Discovery 1.0 §4, RFC 8414 §3), fetched once and kept."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx

from canary_resource.errors import ConfigurationError, Unavailable

WELL_KNOWN = "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class Metadata:
    issuer: str
    jwks_uri: str
    token_endpoint: str
    introspection_endpoint: str | None
    events_endpoint: str


class Discovery:
    """Fetches ``issuer``'s discovery document on first use; a failed fetch is retried on the next use."""

    def __init__(self, issuer: str, http: httpx.Client) -> None:
        self.issuer = issuer.rstrip("/")
        self._http = http
        self._metadata: Metadata | None = None
        self._lock = threading.Lock()

    def get(self) -> Metadata:
        if self._metadata is None:
            with self._lock:
                if self._metadata is None:
                    self._metadata = self._fetch()
        return self._metadata

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
