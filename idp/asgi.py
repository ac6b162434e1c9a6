"""ASGI entry points: ``app(settings)`` for one process, ``app()`` as a uvicorn factory for several."""

from __future__ import annotations

import gc
import logging

from starlette.applications import Starlette

from idp.app import create_app
from idp.settings import Settings

log = logging.getLogger("canary")


def app(settings: Settings | None = None) -> Starlette:
    from idp.cli import open_analytics

    settings = settings or Settings.from_env()
    analytics = open_analytics(settings)
    try:
        analytics.migrate()
    except Exception as exc:  # a ClickHouse server that is down must not stop sign-ins; the spool waits
        log.warning("ClickHouse schema not applied yet (%s); events are kept in the spool", exc)
    application = create_app(settings, analytics)
    # Everything made so far (modules, the app, mappers, keys) lives as long as the process. Frozen, the
    # collector's full passes no longer walk it: they cost ~100 ms each otherwise, a pause every request in
    # flight waits out (the ingest path allocates fast enough to trigger one every few seconds).
    gc.freeze()
    return application
