"""The proof a change of second factors needs, against a real SQLite database: how recent a session's
authentication must be, what a confirmation makes of the session, and the password check that counts toward the
lockout as a sign-in does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

import idp.oauth.models  # noqa: F401  (every table)
from idp.accounts import sessions
from idp.accounts.errors import SignInFailed
from idp.accounts.factors import levels
from idp.accounts.login import LoginPolicy, confirm_password
from idp.accounts.models import User
from idp.accounts.passwords import hash_password
from idp.accounts.reauthentication import WINDOW, is_recent, renew
from idp.db import Base

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'accounts.db'}")
    Base.metadata.create_all(engine)
    with sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
    engine.dispose()


def new_user(db: Session) -> User:
    user = User(email="ada@example.com", name="Ada", password_hash=hash_password(PASSWORD))
    db.add(user)
    db.commit()
    return user


def test_a_session_is_recent_for_the_window_after_its_authentication(db: Session) -> None:
    _, session = sessions.start_session(db, new_user(db), 86400, NOW)
    assert is_recent(session, NOW + WINDOW)
    assert not is_recent(session, NOW + WINDOW + timedelta(seconds=1))


def test_a_confirmation_becomes_the_sessions_authentication(db: Session) -> None:
    _, session = sessions.start_session(db, new_user(db), 86400, NOW, [levels.PASSWORD])
    later = NOW + timedelta(hours=3)
    renew(session, [levels.PASSWORD, levels.OTP], later)
    assert session.auth_time == later and is_recent(session, later)
    assert session.amr == "pwd otp mfa" and session.acr == levels.MULTI
    renew(session, [levels.PASSWORD], later)
    assert session.amr == "pwd" and session.acr == levels.SINGLE, "it says what was proven, no more"


def test_confirm_password_counts_toward_the_lockout_and_a_right_one_resets_it(db: Session) -> None:
    user = new_user(db)
    rules = LoginPolicy(max_failures=3, lock_seconds=60)
    for _ in range(2):
        with pytest.raises(SignInFailed) as wrong:
            confirm_password(db, user, "a guess", rules, NOW)
        assert wrong.value.reason == "bad_password"
    db.refresh(user)
    assert user.failed_logins == 2
    confirm_password(db, user, PASSWORD, rules, NOW)
    db.commit()
    db.refresh(user)
    assert user.failed_logins == 0

    locks: list[datetime] = []
    told = LoginPolicy(max_failures=3, lock_seconds=60, on_lock=lambda _db, _user, until: locks.append(until))
    for _ in range(3):
        with pytest.raises(SignInFailed):
            confirm_password(db, user, "a guess", told, NOW)
    assert locks == [NOW + timedelta(seconds=60)], "the owner is told once"
    with pytest.raises(SignInFailed) as locked:
        confirm_password(db, user, PASSWORD, told, NOW + timedelta(seconds=30))
    assert locked.value.reason == "locked"
    confirm_password(db, user, PASSWORD, told, NOW + timedelta(seconds=61))


def test_a_disabled_account_confirms_nothing(db: Session) -> None:
    user = new_user(db)
    user.disabled = True
    db.commit()
    with pytest.raises(SignInFailed) as refused:
        confirm_password(db, user, PASSWORD, LoginPolicy(), NOW)
    assert refused.value.reason == "disabled"
