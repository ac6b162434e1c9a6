"""The issuer's signing keys (RFC 7517), kept in memory and fetched again when a token names an unknown ``kid``.

Refetches forced by unknown kids are rate-limited (``min_refresh`` seconds apart): tokens with made-up kids
cannot turn every request into a call to the issuer. A key rotation in Canary publishes the new key before
it signs anything, so the first token signed with it finds it at the next refetch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc.jwk import ECKey, RSAKey

from canary_resource.discovery import Discovery
from canary_resource.errors import Unavailable

ALGORITHMS = ("RS256", "ES256")
Key = RSAKey | ECKey


class JWKS:
    def __init__(self, discovery: Discovery, http: httpx.Client, *, min_refresh: float = 5.0,
                 max_age: float = 3600.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._discovery = discovery
        self._http = http
        self.min_refresh = min_refresh
        self.max_age = max_age
        self._monotonic = monotonic
        self._keys: dict[str, tuple[str, Key]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def cached(self, kid: str) -> tuple[str, Key] | None:
        """The key for ``kid`` if it is in memory and the set is fresh, without any I/O."""
        if self._fetched_at is None or self._monotonic() - self._fetched_at > self.max_age:
            return None
        return self._keys.get(kid)

    def needs_fetch(self, kid: str) -> bool:
        """Whether ``find(kid)`` would call the issuer."""
        return self.cached(kid) is None and self._may_fetch()

    def find(self, kid: str) -> tuple[str, Key] | None:
        """``(alg, key)`` for ``kid``, fetching the set when it is unknown (at most every ``min_refresh`` s)."""
        found = self.cached(kid)
        if found is not None:
            return found
        with self._lock:
            found = self.cached(kid)
            if found is None and self._may_fetch():
                self._fetch()
                found = self._keys.get(kid)
            elif found is None:
                found = self._keys.get(kid)  # stale set, refetched too recently: still the best answer
        return found

    def _may_fetch(self) -> bool:
        return self._fetched_at is None or self._monotonic() - self._fetched_at >= self.min_refresh

    def _fetch(self) -> None:
        uri = self._discovery.get().jwks_uri
        try:
            response = self._http.get(uri)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the issuer's JWKS cannot be fetched: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"the issuer's JWKS answered {response.status_code}")
        self.fetches += 1
        self._keys = parse(response.json())
        self._fetched_at = self._monotonic()


def parse(body: Any) -> dict[str, tuple[str, Key]]:
    """Signing keys by kid; keys for other uses or algorithms, and keys without a kid, are left out."""
    keys: dict[str, tuple[str, Key]] = {}
    for jwk in body.get("keys", []) if isinstance(body, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
            continue
        kty, alg = jwk.get("kty"), jwk.get("alg")
        try:
            if kty == "RSA" and alg in (None, "RS256"):
                keys[jwk["kid"]] = ("RS256", RSAKey.import_key(jwk))
            elif kty == "EC" and jwk.get("crv") == "P-256" and alg in (None, "ES256"):
                keys[jwk["kid"]] = ("ES256", ECKey.import_key(jwk))
        except (ValueError, TypeError, KeyError):
            continue
    return keys
