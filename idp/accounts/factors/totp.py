"""Authenticator apps: time-based one-time passwords (RFC 6238; SHA-1, 6 digits, 30-second steps).

A code is accepted for the current step and one step either side (RFC 6238 §5.2: clock drift and the time it
takes to type), and never for a step at or before the last one accepted (§5.2: no replay), which one
conditional UPDATE decides, so two concurrent uses of one code cannot both pass. Time comes from the caller.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from idp.accounts.factors import sealing
from idp.accounts.models import TotpFactor, User

DRIFT_STEPS = 1
ISSUER_NAME = "Canary"


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 §4 recommends


def provisioning_uri(secret: str, email: str, issuer_name: str = ISSUER_NAME) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer_name)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no script, no style element)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="QR code for your authenticator app"))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` is valid for at ``now`` (within the drift window), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        expected = totp.generate_otp(current + offset)
        if hmac.compare_digest(expected.encode(), code.encode()) and found is None:
            found = current + offset
    return found


def factor(db: Session, user_id: str) -> TotpFactor | None:
    return db.get(TotpFactor, user_id)


def confirmed(db: Session, user_id: str) -> bool:
    row = factor(db, user_id)
    return row is not None and row.confirmed_at is not None


def start_enrollment(db: Session, user: User, key_encryption_key: str, now: datetime) -> str:
    """A new unconfirmed secret for ``user`` (replacing an unconfirmed one); returns it in clear for the QR code.
    An already confirmed factor is left alone: remove it first."""
    row = factor(db, user.id)
    if row is not None and row.confirmed_at is not None:
        raise ValueError("an authenticator app is already set up")
    secret = new_secret()
    stored = sealing.seal(key_encryption_key, user.id, secret)
    if row is None:
        db.add(TotpFactor(user_id=user.id, secret=stored, created_at=now, last_step=0))
    else:
        row.secret, row.created_at, row.last_step = stored, now, 0
    db.flush()
    return secret


def pending_secret(db: Session, user_id: str, key_encryption_key: str) -> str | None:
    """The unconfirmed secret being enrolled, in clear, or None."""
    row = factor(db, user_id)
    if row is None or row.confirmed_at is not None:
        return None
    return sealing.open_secret(key_encryption_key, user_id, row.secret)


def confirm(db: Session, user_id: str, code: str, key_encryption_key: str, now: datetime) -> bool:
    """Ends enrollment when ``code`` is right for the pending secret."""
    row = factor(db, user_id)
    if row is None or row.confirmed_at is not None:
        return False
    if not _accept(db, row, code, key_encryption_key, now):
        return False
    row.confirmed_at = now
    return True


def verify(db: Session, user_id: str, code: str, key_encryption_key: str, now: datetime) -> bool:
    """A sign-in code for the confirmed factor; each step's code is accepted once."""
    row = factor(db, user_id)
    if row is None or row.confirmed_at is None:
        return False
    return _accept(db, row, code, key_encryption_key, now)


def _accept(db: Session, row: TotpFactor, code: str, key_encryption_key: str, now: datetime) -> bool:
    secret = sealing.open_secret(key_encryption_key, row.user_id, row.secret)
    step = matching_step(secret, code, now)
    if step is None:
        return False
    used = db.execute(update(TotpFactor).where(TotpFactor.user_id == row.user_id, TotpFactor.last_step < step)
                      .values(last_step=step).execution_options(synchronize_session=False))
    if getattr(used, "rowcount", 0) != 1:
        return False
    db.refresh(row)
    return True


def remove(db: Session, user_id: str) -> bool:
    removed = db.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    return bool(getattr(removed, "rowcount", 0))
