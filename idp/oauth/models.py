"""OAuth tables. Opaque secrets (client secrets, codes, refresh tokens) are stored as SHA-256 digests only."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

import idp.accounts.models  # noqa: F401  (the tables OAuth rows refer to)
from idp.db import Base, UTCDateTime, utcnow
from idp.opaque import digest


class Client(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40), default="client_secret_basic")
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    # "jwt" (RFC 9068) or "opaque" (idp.oauth.sealed): what its access tokens look like to their holders.
    access_token_format: Mapped[str] = mapped_column(String(10), default="jwt", server_default="jwt")
    # Shown on the login page (https URL of an image), with the client's name.
    logo_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # Where a third party (an accepted invitation) sends people to start the client's own sign-in (OIDC Core §4).
    initiate_login_uri: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # May introspect tokens issued to other clients (idp.oauth.introspection); others introspect only their own.
    resource_server: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A disabled client cannot authenticate or start a sign-in, and its tokens are not usable anywhere.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # May name the accounts of the events it posts by e-mail address as well as by sub.
    events_by_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # --- authlib.oauth2.rfc6749.ClientMixin -------------------------------------------------------------
    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Never guess: a request without redirect_uri is accepted only when exactly one is registered.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def allowed_scopes(self) -> set[str]:
        return set(self.scope.split())

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = self.allowed_scopes()
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.disabled:
            return False  # Authlib answers invalid_client
        if endpoint == "token":
            if self.is_public:
                return method == "none"
            return method in {"client_secret_basic", "client_secret_post"}
        # introspection and revocation: confidential clients authenticate; public ones identify themselves.
        return method == "none" if self.is_public else method != "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def public_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "grant_types": self.grant_types,
            "scope": self.scope,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "public": self.is_public,
            "first_party": self.first_party,
            "admin": self.admin,
            "access_token_format": self.access_token_format,
            "resource_server": self.resource_server,
            "disabled": self.disabled,
            "events_by_email": self.events_by_email,
            "organization_id": self.organization_id,
            "logo_uri": self.logo_uri,
            "initiate_login_uri": self.initiate_login_uri,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


class Grant(Base):
    """One authorization given to a client: a code, and every token and refresh token that came from it.

    Revoking the grant revokes the whole family (code reuse, refresh token reuse, revocation).
    """

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(32))
    redirect_uri: Mapped[str] = mapped_column(Text)
    # False when /authorize took the client's only registered URI: the token request need not name it then.
    redirect_uri_sent: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    sid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # --- authlib AuthorizationCodeMixin -----------------------------------------------------------------
    def get_redirect_uri(self) -> str | None:
        """The redirect_uri the authorization request sent, which the token request must repeat (RFC 6749
        §4.1.3); None when it sent none (``idp.oauth.grants`` still refuses a different one)."""
        return self.redirect_uri if self.redirect_uri_sent else None

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    sid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # --- authlib TokenMixin --------------------------------------------------------------------------
    def check_client(self, client: Client) -> bool:
        return hmac.compare_digest(self.client_id, client.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.spent_at is not None


class RevokedAccessToken(Base):
    """Deny-list of access token ids revoked before their expiry (rows past expires_at can be purged)."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKey(Base):
    """A signing key pair. It is published from created_at, signs from activates_at, and stays published
    until every token it signed has expired (see idp.oauth.keys)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activates_at: Mapped[datetime] = mapped_column(UTCDateTime)
