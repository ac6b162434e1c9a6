"""Access-token verification: RFC 9068 JWTs against the issuer's JWKS, other tokens by introspection.

A JWT access token passes when its header says ``typ: at+jwt`` (RFC 9068 §2.1) with RS256 or ES256 and a kid of
the issuer's JWKS, its signature holds, ``iss`` is the issuer exactly, ``aud`` contains the audience, ``exp``
is in the future and ``sub`` is present (§4). Verified tokens are kept in memory until they expire, so a token
used again costs a dictionary look-up and a comparison with the clock. A JWT is not checked for revocation:
that takes introspection, which is what opaque tokens (anything that is not a three-part JWS) get, with their
answers, active or not, kept for ``introspection_ttl`` seconds.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError

from canary_resource.cache import TokenCache
from canary_resource.claims import AccessClaims, from_mapping
from canary_resource.connections import Connections
from canary_resource.discovery import Discovery
from canary_resource.errors import InvalidToken
from canary_resource.introspection import Introspector
from canary_resource.jwks import ALGORITHMS, JWKS

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1, §4 (case-insensitive)
MAX_TOKEN_LENGTH = 8192
MAX_HEADER_LENGTH = 1024  # Canary's headers are under 100 characters (alg, typ, kid)


class NeedsIO(Exception):
    """The token cannot be checked without calling the issuer (``verify(io=False)``)."""


class TokenVerifier:
    def __init__(
        self, issuer: str, *, audience: str | None = None, client_id: str | None = None,
        client_secret: str | None = None, algorithms: Sequence[str] = ALGORITHMS, leeway: int = 0,
        organization_claim: str = "org_id", introspection_ttl: float = 10.0, cache_size: int = 10_000,
        jwks_min_refresh: float = 5.0, jwks_max_age: float = 3600.0, http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``http``: a client of yours to call Canary with (it is not closed by ``close()``)."""
        unknown = set(algorithms) - set(ALGORITHMS)
        if unknown:
            raise ValueError(f"unsupported algorithms {sorted(unknown)}: RS256 and ES256 only")
        self.http = Connections(http, timeout=10)
        self.discovery = Discovery(issuer, self.http, retry_interval=jwks_min_refresh)
        self.issuer = self.discovery.issuer
        # Canary's access tokens name the issuer itself as their audience unless told otherwise.
        self.audience = audience or self.issuer
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self.organization_claim = organization_claim
        self.introspection_ttl = introspection_ttl
        self.clock = clock
        self.jwks = JWKS(self.discovery, self.http, min_refresh=jwks_min_refresh, max_age=jwks_max_age)
        self.introspector = Introspector(self.discovery, self.http, client_id, client_secret)
        self._verified: TokenCache[AccessClaims] = TokenCache(cache_size)
        self._refused: TokenCache[str] = TokenCache(cache_size)

    def verify(self, token: str, *, io: bool = True) -> AccessClaims:
        """The claims of a valid access token, or InvalidToken (and Unavailable when the issuer cannot be
        reached). With ``io=False``, NeedsIO instead of any call to the issuer."""
        now = self.clock()
        hit = self._verified.get(token, now)
        if hit is not None:
            return hit
        refused = self._refused.get(token, now)
        if refused is not None:
            raise InvalidToken(refused)
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("the access token is empty or too long")
        if token.count(".") == 2:
            return self._verify_jwt(token, now, io)
        if not io:
            raise NeedsIO
        return self._introspect(token, now)

    # --- JWT (RFC 9068) -----------------------------------------------------------------------------------
    def _verify_jwt(self, token: str, now: float, io: bool) -> AccessClaims:
        header = _header(token)
        alg, typ, kid = header.get("alg"), header.get("typ"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken(f"the access token's algorithm {alg!r} is not accepted" if isinstance(alg, str)
                               else "the access token's algorithm is not accepted")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("not an access token (typ is not at+jwt)")
        if not isinstance(kid, str):
            raise InvalidToken("the access token names no signing key")
        if not io and self.jwks.needs_fetch(kid):
            raise NeedsIO
        found = self.jwks.find(kid)
        if found is None:
            raise InvalidToken("the access token is signed by a key the issuer does not publish")
        key_alg, key = found
        if key_alg != alg:
            raise InvalidToken("the access token's algorithm does not match its key")
        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims
        except (JoseError, ValueError, TypeError, RecursionError) as exc:
            raise InvalidToken("the access token's signature does not verify") from exc
        verified = self._check(claims, now)
        self._verified.put(token, verified, verified.expires_at + self.leeway)
        return verified

    def _check(self, claims: dict[str, Any], now: float) -> AccessClaims:
        if claims.get("iss") != self.issuer:
            raise InvalidToken("the access token was issued by another issuer")
        aud = claims.get("aud")
        if self.audience not in (aud if isinstance(aud, list) else [aud]):
            raise InvalidToken("the access token is meant for another audience")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp + self.leeway <= now:
            raise InvalidToken("the access token has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf - self.leeway > now:
            raise InvalidToken("the access token is not valid yet")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("the access token has no subject")
        return from_mapping(claims, self.organization_claim)

    # --- opaque (RFC 7662) ---------------------------------------------------------------------------------
    def _introspect(self, token: str, now: float) -> AccessClaims:
        try:
            body = self.introspector.introspect(token)
            if body.get("iss", self.issuer) != self.issuer:
                raise InvalidToken("the access token was issued by another issuer")
            if body.get("exp", 0) + self.leeway <= now:
                raise InvalidToken("the access token has expired")
        except InvalidToken as err:
            self._refused.put(token, err.description, now + self.introspection_ttl)
            raise
        verified = from_mapping(body, self.organization_claim)
        self._verified.put(token, verified, min(now + self.introspection_ttl, verified.expires_at + self.leeway))
        return verified

    def close(self) -> None:
        """Closes the connections to Canary that the verifier opened; a later call to Canary opens new ones."""
        self.http.close()


def _header(token: str) -> dict[str, Any]:
    """The JOSE header. Its segment's size is bounded, and nesting too deep for the JSON parser (a
    RecursionError) is a malformed token like any other, not an error of the application."""
    segment = token[: token.index(".")]
    if len(segment) > MAX_HEADER_LENGTH:
        raise InvalidToken("the access token's header is too long")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidToken("the access token is malformed") from exc
    if not isinstance(header, dict):
        raise InvalidToken("the access token is malformed")
    return header
