"""PostgreSQL databases of a test's own: created on the test server, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ADMIN = os.environ.get("CANARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new database named ``prefix_<random>``; yields its URL and drops it on the way out (its connections
    closed by force). Fails the test, never skips, when PostgreSQL cannot be reached."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the environment is broken
        admin.dispose()
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc}")
    try:
        yield f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def own_accounts_database(database_url: str, tmp: Path, prefix: str) -> Iterator[str]:
    """An accounts database for one test alone, of the same kind as ``database_url``: a SQLite file under
    ``tmp``, or a fresh PostgreSQL database (other tests' providers, and their alert loops, share the session's)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp / 'accounts.db'}"
        return
    with fresh_postgres_database(prefix) as url:
        yield url
