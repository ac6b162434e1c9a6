"""Access tokens (RFC 9068 JWTs, or opaque), refresh tokens (opaque, rotated: ``idp.oauth.refresh_tokens``),
ID tokens, and their revocation.

Access tokens are self-contained JWTs so resource servers can verify them with the JWKS, unless the client is
registered for opaque ones (``idp.oauth.sealed``: the same claims, encrypted; resource servers introspect
them). Both formats are revocable: a revoked token's ``jti`` goes on a deny-list, and tokens that came from a
user's grant carry the grant id (``gid``) so that revoking the grant (code reuse, refresh token reuse,
revocation of a refresh token) stops all of them at once. ``client_credentials`` tokens write nothing to the database.
Whether a token that decodes is still usable is ``idp.oauth.resource_access``'s rule.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.accounts.models import User
from idp.clock import SYSTEM_CLOCK, Clock
from idp.db import utcnow
from idp.oauth import refresh_tokens
from idp.oauth.keys import KeyStore
from idp.oauth.models import Client, Grant, RefreshToken, RevokedAccessToken
from idp.oauth.refresh_tokens import NewRefreshToken
from idp.oauth.sealed import Sealer, Unsealable, is_sealed
from idp.opaque import digest

ACCESS_TOKEN_TYP = "at+jwt"


class InvalidToken(Exception):
    """The token is malformed, not ours, expired or revoked."""


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    access_ttl: int
    id_ttl: int
    refresh_ttl: int
    access_alg: str = "RS256"  # ID tokens use the client's registered algorithm


def half_hash(value: str, alg: str) -> str:
    """at_hash per OpenID Connect Core §3.1.3.6: left half of the hash matching the signing alg."""
    digest_ = hashlib.sha256(value.encode("ascii")).digest()  # RS256 and ES256 both use SHA-256
    return base64.urlsafe_b64encode(digest_[: len(digest_) // 2]).rstrip(b"=").decode()


class TokenService:
    def __init__(self, keys: KeyStore, policy: TokenPolicy, clock: Clock = SYSTEM_CLOCK) -> None:
        self.keys = keys
        self.policy = policy
        self.clock = clock
        self.sealer = Sealer(keys)

    # --- issuing -------------------------------------------------------------------------------------
    def access_token(
        self, *, client: Client, subject: str, scope: str, grant_id: str | None = None,
        auth_time: datetime | None = None, now: datetime | None = None,
    ) -> tuple[str, int]:
        now = now or self.clock.now()
        iat = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.policy.issuer,
            "sub": subject,
            "aud": self.policy.issuer,
            "iat": iat,
            "exp": iat + self.policy.access_ttl,
            "jti": os.urandom(16).hex(),  # 128 random bits, as uuid4().hex but without building a UUID
            "client_id": client.client_id,
            "scope": scope,
        }
        if auth_time is not None:
            claims["auth_time"] = int(auth_time.timestamp())
        if grant_id is not None:
            claims["gid"] = grant_id
        key = self.keys.signing_key(self.policy.access_alg, now=now)
        if client.access_token_format == "opaque":
            return self.sealer.seal(claims, key), self.policy.access_ttl
        header = {"alg": key.alg, "typ": ACCESS_TOKEN_TYP, "kid": key.kid}
        return jwt.encode(header, claims, key.key, algorithms=[key.alg]), self.policy.access_ttl

    def id_token(
        self, *, client: Client, user: User, claims: dict[str, Any], auth_time: datetime,
        access_token: str | None, nonce: str | None, sid: str | None, now: datetime | None = None,
        amr: list[str] | None = None, acr: str | None = None,
    ) -> str:
        now = now or self.clock.now()
        iat = int(now.timestamp())
        key = self.keys.signing_key(client.id_token_signed_response_alg, now=now)
        body: dict[str, Any] = dict(claims)
        body.update({
            "iss": self.policy.issuer, "sub": user.id, "aud": client.client_id, "azp": client.client_id,
            "iat": iat, "exp": iat + self.policy.id_ttl, "auth_time": int(auth_time.timestamp()),
        })
        if nonce:
            body["nonce"] = nonce
        if sid:
            body["sid"] = sid
        if amr:
            body["amr"] = amr
        if acr:
            body["acr"] = acr
        if access_token:
            body["at_hash"] = half_hash(access_token, key.alg)
        header = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
        return jwt.encode(header, body, key.key, algorithms=[key.alg])

    def new_refresh_token(
        self, *, grant_id: str, client: Client, user_id: str, scope: str, auth_time: datetime, sid: str | None,
        now: datetime | None = None,
    ) -> NewRefreshToken:
        """A refresh token made, not stored: ``store_refresh_token`` or ``rotate_refresh_token`` stores it."""
        return refresh_tokens.new_refresh_token(
            grant_id=grant_id, client_id=client.client_id, user_id=user_id, scope=scope, auth_time=auth_time,
            sid=sid, now=now or self.clock.now(), ttl=self.policy.refresh_ttl)

    def refresh_token(
        self, db: Session, *, grant_id: str, client: Client, user_id: str, scope: str,
        auth_time: datetime, sid: str | None, now: datetime | None = None,
    ) -> str:
        """A grant's first refresh token, stored."""
        token = self.new_refresh_token(grant_id=grant_id, client=client, user_id=user_id, scope=scope,
                                       auth_time=auth_time, sid=sid, now=now)
        refresh_tokens.store(db, token)
        return token.value

    # --- verifying -----------------------------------------------------------------------------------
    def decode(self, token: str, now: datetime | None = None) -> dict[str, Any]:
        """Signature (or seal), type, issuer and expiry of an access token — no database look-up."""
        if token and is_sealed(token):
            try:
                return self._check_claims(self.sealer.unseal(token), now)
            except Unsealable as exc:
                raise InvalidToken(str(exc)) from exc
        if not token or len(token) > 8192 or token.count(".") != 2:
            raise InvalidToken("not a JWT access token")
        try:
            header = extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidToken("malformed token") from exc
        kid = header.get("kid")
        loaded = self.keys.find(kid) if isinstance(kid, str) else None
        if loaded is None:
            raise InvalidToken("unknown signing key")
        try:
            decoded = jwt.decode(token, loaded.key, algorithms=[loaded.alg])
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken("bad signature") from exc
        if decoded.header.get("typ") != ACCESS_TOKEN_TYP:
            raise InvalidToken("not an access token")
        return self._check_claims(decoded.claims, now)

    def _check_claims(self, claims: dict[str, Any], now: datetime | None) -> dict[str, Any]:
        now_ts = int((now or self.clock.now()).timestamp())
        exp = claims.get("exp")
        if claims.get("iss") != self.policy.issuer or not isinstance(exp, int) or exp <= now_ts:
            raise InvalidToken("expired or foreign token")
        return claims

    def find_refresh_token(self, db: Session, value: str) -> RefreshToken | None:
        if not value or len(value) > refresh_tokens.MAX_LENGTH:
            return None
        return db.get(RefreshToken, digest(value))

    presented_refresh_token = staticmethod(refresh_tokens.presented)

    @staticmethod
    def rotate_refresh_token(db: Session, presented_hash: str, successor: NewRefreshToken, now: datetime) -> bool:
        """Spends the presented refresh token and stores its successor, atomically: of two concurrent uses
        exactly one gets True."""
        return refresh_tokens.rotate(db, presented_hash, successor, now)

    # --- revoking ------------------------------------------------------------------------------------
    @staticmethod
    def revoke_grant(db: Session, grant_id: str, now: datetime | None = None) -> None:
        db.execute(update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None))
                   .values(revoked_at=now or utcnow()))

    @staticmethod
    def revoke_user_grants(db: Session, user_id: str, now: datetime | None = None) -> None:
        db.execute(update(Grant).where(Grant.user_id == user_id, Grant.revoked_at.is_(None))
                   .values(revoked_at=now or utcnow()))

    @staticmethod
    def revoke_access_token(db: Session, claims: dict[str, Any]) -> None:
        jti = str(claims.get("jti", ""))
        if jti and db.get(RevokedAccessToken, jti) is None:
            exp = datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo)
            db.add(RevokedAccessToken(jti=jti, expires_at=exp))

    @staticmethod
    def grant_active(db: Session, grant_id: str) -> bool:
        grant = db.get(Grant, grant_id)
        return grant is not None and grant.revoked_at is None


def decode_id_token_hint(keys: KeyStore, issuer: str, hint: str) -> dict[str, Any]:
    """One of our ID tokens, signature checked; expired ones are accepted (OIDC Core §3.1.2.1)."""
    try:
        kid = extract_compact(hint.encode()).headers().get("kid")
        loaded = keys.find(kid) if isinstance(kid, str) else None
        if loaded is None:
            raise InvalidToken("id_token_hint is not signed by this provider")
        decoded = jwt.decode(hint, loaded.key, algorithms=[loaded.alg])
    except (JoseError, ValueError, UnicodeError, TypeError) as exc:
        raise InvalidToken("id_token_hint is not a valid ID token") from exc
    claims = decoded.claims
    if claims.get("iss") != issuer or decoded.header.get("typ") == ACCESS_TOKEN_TYP:
        raise InvalidToken("id_token_hint was not issued by this provider")
    if not isinstance(claims.get("sub"), str):
        raise InvalidToken("id_token_hint has no subject")
    return claims


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [a for a in (aud if isinstance(aud, list) else [aud]) if isinstance(a, str)]
