"""Opening what the provider runs on, for the app, the ``canary`` command and the worker processes.

``sql_sessions`` is a session factory on an engine of its own, disposed on exit (the CLI's commands);
``open_analytics`` opens the analytics facade from the settings; ``application`` is the whole provider as one
process serves it: analytics opened and its schema applied, the app built. ``idp.asgi:app`` (``ASGI_FACTORY``)
names ``application`` for uvicorn, which imports it by that string in each worker process.

This module sits above ``idp.app`` and below ``idp.cli`` and ``idp.asgi``: nothing it imports imports it back.
Modules are imported inside the functions that need them, so that ``canary config`` or ``canary --help`` start
without loading SQLAlchemy, the web stack or ClickHouse's drivers.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from idp.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker
    from starlette.applications import Starlette

    from analytics.api import AnalyticsFacade
    from idp.accounts.flows import AccountFlows

log = logging.getLogger("canary")

ASGI_FACTORY = "idp.asgi:app"


@contextlib.contextmanager
def sql_sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on a short-lived engine, disposed on exit."""
    from idp.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def account_flows(settings: Settings) -> Iterator[tuple[AccountFlows, sessionmaker[Session]]]:
    """The account flows for a command (``canary users invite``, ``reset-password``): mail is queued in the
    database and sent by the running server's sender (or the outbox)."""
    from idp.accounts.flows import AccountFlows, AccountPolicy
    from idp.clock import SYSTEM_CLOCK
    from idp.mail import mailer_for
    from idp.oauth.tokens import TokenService

    with sql_sessions(settings) as factory:
        mail = mailer_for(settings, factory, SYSTEM_CLOCK)
        yield (AccountFlows(mail, SYSTEM_CLOCK, AccountPolicy.from_settings(settings),
                            TokenService.revoke_user_grants), factory)


def open_analytics(settings: Settings) -> AnalyticsFacade:
    """The analytics facade: the spool under the data directory, ClickHouse at the URL or embedded (chDB)."""
    from analytics.api import Analytics

    return Analytics.open(url=settings.analytics_url, data_dir=settings.data_dir,
                          retention_days=settings.event_retention_days, spool_max_bytes=settings.spool_max_bytes,
                          flush_interval=settings.analytics_flush_seconds,
                          rollup_interval=settings.usage_rollup_interval, cluster=settings.analytics_cluster,
                          insert_quorum=settings.analytics_insert_quorum)


def application(settings: Settings | None = None) -> Starlette:
    """The provider's ASGI app, settings read from the environment unless given."""
    from idp.app import create_app

    settings = settings or Settings.from_env()
    analytics = open_analytics(settings)
    try:
        analytics.migrate()
    except Exception as exc:  # a ClickHouse server that is down must not stop sign-ins; the spool waits
        log.warning("ClickHouse schema not applied yet (%s); events are kept in the spool", exc)
    app = create_app(settings, analytics)
    # Everything made so far (modules, the app, mappers, keys) lives as long as the process. Frozen, the
    # collector's full passes no longer walk it: they cost ~100 ms each otherwise, a pause every request in
    # flight waits out (the ingest path allocates fast enough to trigger one every few seconds).
    gc.freeze()
    return app
