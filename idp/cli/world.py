"""What the activity and alert commands work on: the accounts database, analytics and the account directory,
opened together and closed on exit; and organizations named by id or slug."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from idp.bootstrap import open_analytics, sql_sessions
from idp.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from analytics.api import AnalyticsFacade
    from idp.directory import SqlAccountDirectory


@contextmanager
def world(settings: Settings) -> Iterator[tuple[sessionmaker[Session], AnalyticsFacade, SqlAccountDirectory]]:
    """Accounts session factory, analytics, directory — closed on exit."""
    from idp.directory import SqlAccountDirectory

    with sql_sessions(settings) as factory:
        analytics = open_analytics(settings)
        try:
            yield factory, analytics, SqlAccountDirectory(factory)
        finally:
            analytics.close()


def organization_id(factory: sessionmaker[Session], value: str | None) -> str | None:
    if value is None:
        return None
    from idp.accounts.service import find_organization

    with factory() as db:
        org = find_organization(db, value)
    if org is None:
        raise SystemExit(f"error: unknown organization {value!r}")
    return org.id
