"""Account tables: users, organizations, memberships, login sessions, second factors, invitations and the
single-use tokens of password resets and e-mail verification."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

import idp.mail.models  # noqa: F401  (the outgoing mail queue shares the accounts database)
from idp.db import Base, UTCDateTime, utcnow


def new_id() -> str:
    return uuid.uuid4().hex


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # May open the activity dashboard.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Wrong second factors since the last right one; a correct password does not clear them.
    factor_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Members must sign in with a second factor; those without one enroll at their next sign-in.
    require_second_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(50), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "active", or "invited" until the invitation is accepted (then invited_at stays as history).
    state: Mapped[str] = mapped_column(String(10), default="active", server_default="active")
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginSession(Base):
    """A browser's signed-in session. Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Public, non-secret identifier used as the `sid` claim.
    sid: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How the user authenticated (RFC 8176 values, space-separated) and the level that gives
    # (idp.accounts.factors.levels); fixed for the session's life: a step-up starts a new session.
    amr: Mapped[str] = mapped_column(String(100), default="pwd", server_default="pwd")
    acr: Mapped[str] = mapped_column(String(100), default="", server_default="")


class TotpFactor(Base):
    """A user's authenticator app (RFC 6238). The secret is sealed when CANARY_KEY_ENCRYPTION_KEY is set;
    ``confirmed_at`` is None until the user has entered a first code."""

    __tablename__ = "totp_factors"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last time step a code was accepted for: a code is never accepted twice.
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class RecoveryCode(Base):
    """A single-use recovery code; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Passkey(Base):
    """A WebAuthn credential. ``id`` is the credential id (base64url); the public key is COSE-encoded."""

    __tablename__ = "passkeys"

    id: Mapped[str] = mapped_column(String(1400), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    # Synced (backed-up) passkeys live in software key stores: amr `swk`; others `hwk`.
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FactorChallenge(Base):
    """A ceremony in progress, bound to a browser by a cookie whose SHA-256 is ``id_hash``: the second step
    after a correct password, enrollment at sign-in, a passkey sign-in or a passkey registration."""

    __tablename__ = "factor_challenges"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    # The authorization request the sign-in continues with (form-encoded).
    request: Mapped[str] = mapped_column(Text, default="")
    webauthn_challenge: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ThrottleCount(Base):
    """Attempts counted for one throttled key (an address, an account, a client) in one fixed window of time.

    Kept in the accounts database so that every worker and node shares them (``idp.accounts.throttle``); rows
    older than two windows are pruned.
    """

    __tablename__ = "throttle_counts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AccountToken(Base):
    """A single-use link's token (password reset, e-mail verification). Only its SHA-256 is stored."""

    __tablename__ = "account_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))  # password_reset | verify_email
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The address the link proves (the account's, or the new one of an e-mail change).
    email: Mapped[str] = mapped_column(String(320))
    # Unused: earlier versions kept a sign-up's password here; it is now chosen on the link's page
    # (idp.accounts.verification). Kept while nodes of those versions may still write it during an upgrade.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Invitation(Base):
    """An invitation into an organization. Only the SHA-256 of the link's token is stored."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(50), default="member")
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.client_id", ondelete="SET NULL"),
                                                  nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
