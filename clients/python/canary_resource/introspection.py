"""Opaque access tokens, asked about at the issuer's introspection endpoint (RFC 7662 §2)."""

from __future__ import annotations

from typing import Any

import httpx

from canary_resource.connections import Connections
from canary_resource.discovery import Discovery
from canary_resource.errors import ConfigurationError, InvalidToken, Unavailable


class Introspector:
    """Calls ``/introspect`` authenticated with the resource server's own client credentials (§2.1)."""

    def __init__(self, discovery: Discovery, http: Connections, client_id: str | None,
                 client_secret: str | None) -> None:
        self._discovery = discovery
        self._http = http
        self._auth = (client_id, client_secret) if client_id and client_secret else None
        self.calls = 0

    @property
    def enabled(self) -> bool:
        return self._auth is not None

    def introspect(self, token: str) -> dict[str, Any]:
        """The active token's claims; InvalidToken when the issuer says it is not active (§2.2)."""
        if self._auth is None:
            raise InvalidToken("not a JWT access token (opaque tokens need client credentials to introspect)")
        endpoint = self._discovery.get().introspection_endpoint
        if endpoint is None:
            raise ConfigurationError("the issuer publishes no introspection_endpoint")
        self.calls += 1
        try:
            response = self._http.post(endpoint, data={"token": token, "token_type_hint": "access_token"},
                                       auth=self._auth)
        except httpx.HTTPError as exc:
            raise Unavailable(f"introspection failed: {exc}") from exc
        if response.status_code in (400, 401):
            raise ConfigurationError(f"the issuer refused this resource server's introspection call "
                                     f"({response.status_code}): check client_id and client_secret")
        if response.status_code != 200:
            raise Unavailable(f"introspection answered {response.status_code}")
        body = response.json()
        if not isinstance(body, dict) or body.get("active") is not True:
            raise InvalidToken("the access token is not active")
        # A refresh token is introspectable too, but it is no access token (RFC 7662 §2.2's token_type).
        if body.get("token_type") not in (None, "Bearer", "bearer", "access_token"):
            raise InvalidToken("not an access token")
        if not isinstance(body.get("sub"), str) or not isinstance(body.get("exp"), int):
            raise InvalidToken("the introspection answer has no subject or expiry")
        return body
