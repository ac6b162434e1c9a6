"""The issuer's signing keys (RFC 7517), kept in memory and fetched again when a token names an unknown ``kid``.

Fetches are rate-limited: at most one attempt per ``min_refresh`` seconds, whether the last one succeeded or
failed, so tokens with made-up kids cannot turn every request into a call to the issuer, even while it fails.
Callers that waited while a fetch was under way take its outcome instead of repeating it. A key rotation in
Canary publishes the new key before it signs anything, so the first token signed with it finds it at the next
fetch.

A known key is never dropped because Canary cannot be reached: a set older than ``max_age`` is refreshed in
the background while its keys stay in use, and a failed fetch leaves the keys already known in place. Only a
successful fetch replaces them (a key Canary stopped publishing is then refused).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc.jwk import ECKey, RSAKey

from canary_resource.connections import Connections
from canary_resource.discovery import Discovery
from canary_resource.errors import CanaryError, Unavailable

ALGORITHMS = ("RS256", "ES256")
Key = RSAKey | ECKey

log = logging.getLogger("canary_resource")


class JWKS:
    def __init__(self, discovery: Discovery, http: Connections, *, min_refresh: float = 5.0,
                 max_age: float = 3600.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._discovery = discovery
        self._http = http
        self.min_refresh = min_refresh
        self.max_age = max_age
        self._monotonic = monotonic
        self._keys: dict[str, tuple[str, Key]] = {}
        self._fetched_at: float | None = None  # the last fetch that succeeded
        self._attempted_at: float | None = None  # the last attempt, as it ended, whatever its outcome
        self._failure: CanaryError | None = None  # the last attempt's error; None when it succeeded
        self._lock = threading.Lock()
        self.attempts = 0
        self.fetches = 0

    def cached(self, kid: str) -> tuple[str, Key] | None:
        """The key for ``kid`` if it is in memory, without any I/O."""
        return self._keys.get(kid)

    def needs_fetch(self, kid: str) -> bool:
        """Whether ``find(kid)`` would wait for the issuer."""
        return kid not in self._keys and self._may_attempt()

    def find(self, kid: str) -> tuple[str, Key] | None:
        """``(alg, key)`` for ``kid``; None when the issuer does not publish it; Unavailable when the issuer
        could not be asked (the last attempt failed, within ``min_refresh`` seconds or while this caller
        waited for it)."""
        found = self._keys.get(kid)
        if found is not None:
            if self._due():
                self._refresh_in_background()
            return found
        seen = self.attempts
        with self._lock:
            found = self._keys.get(kid)
            if found is None:
                if self.attempts == seen and self._may_attempt():
                    self._attempt()
                    found = self._keys.get(kid)
                failure = self._failure
                if found is None and failure is not None:
                    raise type(failure)(str(failure))
        return found

    def _may_attempt(self) -> bool:
        return self._attempted_at is None or self._monotonic() - self._attempted_at >= self.min_refresh

    def _due(self) -> bool:
        return (self._fetched_at is None or self._monotonic() - self._fetched_at >= self.max_age) \
            and self._may_attempt()

    def _refresh_in_background(self) -> None:
        """Starts one refresh unless a fetch is under way; the request that noticed goes on with the known key."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            threading.Thread(target=self._refresh, name="canary-jwks", daemon=True).start()
        except BaseException:
            self._lock.release()
            raise

    def _refresh(self) -> None:
        try:  # the lock was taken by the thread that started this one
            if self._due():
                self._attempt()
                if self._failure is not None:
                    log.warning("canary: %s; the keys already known stay in use", self._failure)
        finally:
            self._lock.release()

    def _attempt(self) -> None:
        """One fetch (the caller holds the lock): on success the set is replaced, on failure kept."""
        try:
            self._keys = self._fetch()
            self._fetched_at = self._monotonic()
            self._failure = None
            self.fetches += 1
        except CanaryError as exc:
            self._failure = exc
        finally:
            self._attempted_at = self._monotonic()
            self.attempts += 1

    def _fetch(self) -> dict[str, tuple[str, Key]]:
        uri = self._discovery.get().jwks_uri
        try:
            response = self._http.get(uri)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the issuer's JWKS cannot be fetched: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"the issuer's JWKS answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise Unavailable("the issuer's JWKS is not JSON") from exc
        return parse(body)


def parse(body: Any) -> dict[str, tuple[str, Key]]:
    """Signing keys by kid; keys for other uses or algorithms, and keys without a kid, are left out."""
    keys: dict[str, tuple[str, Key]] = {}
    published = body.get("keys") if isinstance(body, dict) else None
    for jwk in published if isinstance(published, list) else []:
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
