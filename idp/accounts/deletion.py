"""Deleting an account: its memberships, login sessions, grants and tokens go with it (the foreign keys cascade),
so every token issued to it stops working at once (``idp.oauth.resource_access`` finds no enabled user)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.models import User


def delete_user(db: Session, user: User) -> None:
    db.delete(user)
    db.flush()
