"""Recovery codes: ten single-use codes, shown once, kept as SHA-256 digests.

Each code has 80 random bits (16 base32 characters, written in groups of four), so a fast hash is enough at
rest. A code is spent by one conditional UPDATE: of two concurrent uses exactly one succeeds.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from idp.accounts.models import RecoveryCode
from idp.opaque import digest

COUNT = 10


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 80 bits, 16 characters
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4)).lower()


def replace_codes(db: Session, user_id: str, now: datetime) -> list[str]:
    """New codes for ``user_id``, replacing any earlier ones; returned once, in clear."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_code() for _ in range(COUNT)]
    db.add_all(RecoveryCode(code_hash=digest(_normalise(code)), user_id=user_id, created_at=now) for code in codes)
    db.flush()
    return codes


def use(db: Session, user_id: str, code: str, now: datetime) -> bool:
    normalised = _normalise(code)
    if len(normalised) != 16:
        return False
    spent = db.execute(update(RecoveryCode).where(
        RecoveryCode.code_hash == digest(normalised), RecoveryCode.user_id == user_id,
        RecoveryCode.used_at.is_(None)).values(used_at=now).execution_options(synchronize_session=False))
    return getattr(spent, "rowcount", 0) == 1


def remaining(db: Session, user_id: str) -> int:
    return db.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))) or 0


def remove(db: Session, user_id: str) -> None:
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
