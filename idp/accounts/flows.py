"""What the account flows (password reset and change, e-mail verification, sign-up, invitations) need, built
once by the application context and by the CLI: the mailer, the clock, the policy read from the settings,
and two hooks the layers above supply — ending every token grant of an account (``idp.oauth``) and recording
provider events (``idp.activity``) — so that this package, below both, owns the rules without importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.accounts.models import LoginSession, User
from idp.clock import Clock
from idp.mail import Mailer
from idp.settings import Settings


class AccountEvents(Protocol):
    """Recording the account events (``analytics.provider_events``); ``idp.activity.Activity`` implements it."""

    def account_invited(self, db: Session, user_id: str, organization_id: str) -> None: ...

    def account_signed_up(self, db: Session, user_id: str) -> None: ...

    def email_verified(self, db: Session, user_id: str) -> None: ...

    def password_reset_requested(self, db: Session, user_id: str, by: str) -> None: ...

    def password_changed(self, db: Session, user_id: str, how: str) -> None: ...


class NoEvents:
    def account_invited(self, db: Session, user_id: str, organization_id: str) -> None:
        return None

    def account_signed_up(self, db: Session, user_id: str) -> None:
        return None

    def email_verified(self, db: Session, user_id: str) -> None:
        return None

    def password_reset_requested(self, db: Session, user_id: str, by: str) -> None:
        return None

    def password_changed(self, db: Session, user_id: str, how: str) -> None:
        return None


@dataclass(frozen=True)
class AccountPolicy:
    base_url: str
    password_min_length: int = 10
    signup: str = "off"  # off | open | domains:a.com,b.com
    signup_domains: tuple[str, ...] = ()
    invitation_ttl: int = 7 * 86400
    login_max_failures: int = 5
    login_lock_seconds: int = 900
    reset_ttl: int = 30 * 60
    verification_ttl: int = 48 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> AccountPolicy:
        return cls(base_url=settings.issuer, password_min_length=settings.password_min_length,
                   signup=settings.signup, signup_domains=settings.signup_domains,
                   invitation_ttl=settings.invitation_ttl, login_max_failures=settings.login_max_failures,
                   login_lock_seconds=settings.login_lock_seconds)


@dataclass
class AccountFlows:
    mail: Mailer
    clock: Clock
    policy: AccountPolicy
    end_grants: Callable[[Session, str, datetime], None]
    """Revokes every token grant (refresh-token family) of an account."""
    events: AccountEvents = field(default_factory=NoEvents)

    def sign_out_everywhere(self, db: Session, user: User, now: datetime, keep: str | None = None) -> int:
        """End every login session (but the one whose ``id_hash`` is ``keep``) and revoke every grant;
        returns the sessions ended."""
        live = [LoginSession.user_id == user.id, LoginSession.ended_at.is_(None)]
        if keep is not None:
            live.append(LoginSession.id_hash != keep)
        ended = db.execute(update(LoginSession).where(*live).values(ended_at=now))
        self.end_grants(db, user.id, now)
        return int(getattr(ended, "rowcount", 0) or 0)

    def link(self, path: str, token: str) -> str:
        return f"{self.policy.base_url}{path}?token={token}"
