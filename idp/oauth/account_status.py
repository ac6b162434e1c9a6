"""Disabling and enabling an account, with what that means for its tokens: the one owner of this rule, for
the admin API, the console and the command line.

Disabled: sign-in refused, login sessions ended, every grant revoked, so that enabling the account later
does not bring its old access and refresh tokens back. Enabled: sign-in allowed again, a lockout lifted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from idp.accounts import service
from idp.accounts.models import User
from idp.oauth.tokens import TokenService


def disable_account(db: Session, user: User, now: datetime | None = None) -> None:
    service.disable_user(db, user, now)
    TokenService.revoke_user_grants(db, user.id, now)


def enable_account(user: User) -> None:
    service.enable_user(user)
