"""Unit-test helpers: a settable clock and a migrated SQLite accounts database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from idp.db import make_engine, make_session_factory, transaction
from idp.migrate import migrate_sql
from idp.oauth.keys import ensure_key
from idp.settings import Settings


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite accounts database with an RS256 signing key."""
    settings = Settings(data_dir=tmp_path)
    migrate_sql(settings)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    with transaction(factory) as db:
        ensure_key(db, "RS256")
    yield factory
    engine.dispose()
