"""A live Canary for browser tests: uvicorn on a free loopback port in a thread of the test process, the
databases migrated and the console's client registered as ``canary serve`` does."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from idp.accounts.models import User
from idp.accounts.service import create_user
from idp.app import create_app
from idp.cli.serve import prepare
from idp.db import transaction
from idp.migrate import migrate_sql
from idp.settings import Settings
from idp.web.context import Canary
from tests.support.browser import PASSWORD


@dataclass
class LiveServer:
    url: str
    context: Canary
    server: uvicorn.Server
    thread: threading.Thread

    def user(self, email: str | None = None, password: str = PASSWORD, **kwargs: Any) -> User:
        with transaction(self.context.factory) as db:
            return create_user(db, email=email or f"user-{secrets.token_hex(6)}@example.com", password=password,
                               **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def serve(data_dir: Path, analytics: Any = None, **overrides: Any) -> LiveServer:
    """Canary on SQLite under ``data_dir`` (and ``analytics``, opened and migrated, when given)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(issuer=f"http://127.0.0.1:{port}", port=port, data_dir=data_dir,
                        database_url=f"sqlite:///{data_dir / 'canary.db'}", **overrides)
    migrate_sql(settings)
    prepare(settings)
    app = create_app(settings, analytics)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    return LiveServer(settings.issuer, app.state.canary, server, thread)
