"""Browser login sessions. The cookie holds a random value; the database holds only its SHA-256."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from idp.accounts.factors.levels import PASSWORD, acr_of, amr_of
from idp.accounts.models import LoginSession, User
from idp.opaque import digest as _digest
from idp.opaque import new_secret


def start_session(db: Session, user: User, ttl: int, now: datetime,
                  methods: Sequence[str] = (PASSWORD,)) -> tuple[str, LoginSession]:
    """A new session for ``user``, who authenticated by ``methods`` (RFC 8176 values) at ``now``."""
    cookie = new_secret()
    amr = amr_of(methods)
    row = LoginSession(id_hash=_digest(cookie), user_id=user.id, auth_time=now,
                       created_at=now, expires_at=now + timedelta(seconds=ttl), amr=" ".join(amr), acr=acr_of(amr))
    db.add(row)
    db.flush()
    return cookie, row


def load_session(db: Session, cookie: str | None, now: datetime) -> LoginSession | None:
    """The live session of this cookie at ``now``, if any."""
    if not cookie or len(cookie) > 128:
        return None
    row = db.get(LoginSession, _digest(cookie))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = db.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return row


def end_session(db: Session, row: LoginSession, now: datetime) -> None:
    row.ended_at = now
