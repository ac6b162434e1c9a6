"""The current password, typed again on a signed-in page (an e-mail change, a password change, "confirm it's
you" before a change of second factors). Checked by ``idp.accounts.login.confirm_password``: counted toward the
account's lockout like a sign-in, so whoever holds only a stolen session cannot guess it without limit, and a
wrong one is recorded as a failed sign-in (``signin.failed``) of the account page's client."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.errors import SignInFailed
from idp.accounts.login import confirm_password
from idp.accounts.models import User
from idp.oauth.user_grants import ACCOUNT_CLIENT_ID
from idp.web.context import Canary

WRONG = "The password is wrong."
LOCKED = "Too many wrong passwords: the account is locked for a while. Try again later."


def problem(c: Canary, db: Session, user: User, password: str, wrong: str = WRONG) -> str:
    """"" when ``password`` is the user's (the count's reset committed); else what to tell them (the failure
    committed, with the lock notice it may have queued)."""
    try:
        confirm_password(db, user, password, c.login_policy, c.clock.now())
    except SignInFailed as failed:
        db.commit()
        c.activity.signin_failed(db, user.id, failed.reason, ACCOUNT_CLIENT_ID)
        return LOCKED if failed.reason == "locked" else wrong
    db.commit()
    return ""
