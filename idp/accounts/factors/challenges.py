"""Ceremonies in progress, bound to the browser that started them by a cookie (only its SHA-256 is stored).

- ``SECOND_STEP``: the password was right; a second factor is due before the session is created.
- ``ENROLL``: the password was right, but a second factor is required and the user has none: enroll first.
- ``PASSKEY``: a passwordless passkey sign-in (holds the WebAuthn challenge).
- ``REGISTER``: a passkey being added from the security page.
- ``CONFIRM``: a signed-in owner confirming it is them before changing their second factors; the password was
  right, a second factor is due (``idp.accounts.reauthentication``).

Each lives a few minutes and is used once; a ceremony allows ``MAX_ATTEMPTS`` wrong answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from idp.accounts.models import FactorChallenge
from idp.opaque import digest, new_secret

SECOND_STEP = "second_step"
ENROLL = "enroll"
PASSKEY = "passkey"
REGISTER = "register"
CONFIRM = "confirm"
TTL_SECONDS = 600
MAX_ATTEMPTS = 5


def start(db: Session, purpose: str, now: datetime, *, user_id: str | None = None, request: str = "",
          webauthn_challenge: str | None = None) -> str:
    """A new ceremony; returns the cookie value. Expired ceremonies are swept on the way."""
    db.execute(delete(FactorChallenge).where(FactorChallenge.expires_at < now))
    cookie = new_secret()
    db.add(FactorChallenge(id_hash=digest(cookie), purpose=purpose, user_id=user_id, request=request,
                           webauthn_challenge=webauthn_challenge, attempts=0,
                           expires_at=now + timedelta(seconds=TTL_SECONDS)))
    db.flush()
    return cookie


def load(db: Session, cookie: str | None, purpose: str, now: datetime) -> FactorChallenge | None:
    if not cookie or len(cookie) > 128:
        return None
    row = db.get(FactorChallenge, digest(cookie))
    if row is None or row.purpose != purpose or row.expires_at <= now or row.attempts >= MAX_ATTEMPTS:
        return None
    return row


def reserve(db: Session, row: FactorChallenge) -> int | None:
    """Count one answer before it is checked, in one statement: how many the ceremony allows after it, or None
    when none was left. Concurrent answers each take their own, so no more than ``MAX_ATTEMPTS`` are ever checked.
    The caller commits before checking."""
    attempts = db.execute(
        update(FactorChallenge)
        .where(FactorChallenge.id_hash == row.id_hash, FactorChallenge.attempts < MAX_ATTEMPTS)
        .values(attempts=FactorChallenge.attempts + 1)
        .returning(FactorChallenge.attempts)
        .execution_options(synchronize_session=False)).scalar()
    return None if attempts is None else MAX_ATTEMPTS - int(attempts)


def finish(db: Session, row: FactorChallenge) -> None:
    db.delete(row)
    db.flush()
