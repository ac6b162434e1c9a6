"""The resource server's own access token (RFC 6749 §4.4, client_credentials), fetched and renewed."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from canary_resource.connections import Connections
from canary_resource.discovery import Discovery
from canary_resource.errors import ConfigurationError, Unavailable

RENEW_BEFORE = 30.0  # seconds before expiry a token is renewed


class ClientCredentials:
    """A token with ``scope`` for the client, renewed shortly before it expires or when Canary refuses it."""

    def __init__(self, discovery: Discovery, http: Connections, client_id: str, client_secret: str, scope: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._discovery = discovery
        self._http = http
        self._auth = (client_id, client_secret)
        self.scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def token(self) -> str:
        if self._token is None or self._clock() >= self._expires_at - RENEW_BEFORE:
            self._fetch()
        assert self._token is not None
        return self._token

    def forget(self) -> None:
        """Drops the token (Canary answered 401 to it): the next ``token()`` fetches a new one."""
        self._token = None

    def _fetch(self) -> None:
        endpoint = self._discovery.get().token_endpoint
        try:
            response = self._http.post(endpoint, data={"grant_type": "client_credentials", "scope": self.scope},
                                       auth=self._auth)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the token endpoint cannot be reached: {exc}") from exc
        if response.status_code in (400, 401):
            raise ConfigurationError(f"the token endpoint refused the client credentials ({response.status_code}: "
                                     f"{response.text[:200]})")
        if response.status_code != 200:
            raise Unavailable(f"the token endpoint answered {response.status_code}")
        body = response.json()
        self._token = str(body["access_token"])
        self._expires_at = self._clock() + float(body.get("expires_in", 300))
        self.fetches += 1
