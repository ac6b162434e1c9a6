"""Single-use links (password reset, e-mail verification): the token goes into the mail, only its SHA-256 is
stored, with what it is for, the address it proves and when it expires. Issuing a new link of a purpose for an
account spends the older ones, so only the latest mail works. Nothing waits in a link to be applied when it is
followed (no password): following it proves that one reads the address's mail, nothing more. A new password
spends every reset link and every link that would move the account to another address (``spend_after_password``):
whoever had the old password cannot finish what they started with it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.accounts.errors import AccountError
from idp.accounts.models import AccountToken, User
from idp.opaque import digest, new_secret

PASSWORD_RESET = "password_reset"
VERIFY_EMAIL = "verify_email"
MAX_TOKEN_LENGTH = 128


class InvalidLink(AccountError):
    """The link is unknown, expired, spent or for something else."""

    code = "invalid_link"


def issue(db: Session, user: User, purpose: str, email: str, ttl: timedelta, now: datetime) -> str:
    """A new token for ``user``; the raw value is returned once, for the link."""
    db.execute(update(AccountToken).where(AccountToken.user_id == user.id, AccountToken.purpose == purpose,
                                          AccountToken.used_at.is_(None)).values(used_at=now))
    token = new_secret()
    db.add(AccountToken(token_hash=digest(token), purpose=purpose, user_id=user.id, email=email, created_at=now,
                        expires_at=now + ttl))
    db.flush()
    return token


def find(db: Session, token: str, purpose: str, now: datetime) -> AccountToken | None:
    """The live token row (unused, unexpired, of this purpose), without spending it."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.get(AccountToken, digest(token))
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def spend(db: Session, token: str, purpose: str, now: datetime) -> AccountToken | None:
    """The live token row, marked used in the caller's transaction (compare-and-set: of two concurrent uses,
    one wins)."""
    row = find(db, token, purpose, now)
    if row is None:
        return None
    result = db.execute(update(AccountToken).where(AccountToken.token_hash == row.token_hash,
                                                   AccountToken.used_at.is_(None)).values(used_at=now))
    if getattr(result, "rowcount", 0) != 1:
        return None
    db.refresh(row)
    return row


def spend_after_password(db: Session, user: User, now: datetime) -> None:
    """Spend the account's live reset links and its links to another address (a change of address asked for
    while signed in): once the password changes, neither may be finished. A link proving the address the
    account has stays usable."""
    db.execute(update(AccountToken)
               .where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None),
                      (AccountToken.purpose == PASSWORD_RESET)
                      | ((AccountToken.purpose == VERIFY_EMAIL) & (AccountToken.email != user.email)))
               .values(used_at=now))
