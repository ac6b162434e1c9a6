"""A live Canary for browser tests: uvicorn on a free loopback port in a thread of the test process, the
databases migrated and the console's client registered as ``canary serve`` does."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idp.accounts.models import User
from idp.accounts.service import create_user
from idp.app import create_app
from idp.cli.serve import prepare
from idp.db import transaction
from idp.migrate import migrate_sql
from idp.settings import Settings
from idp.web.context import Canary
from tests.support.browser import PASSWORD
from tests.support.server_thread import ServerThread, free_port


@dataclass
class LiveServer:
    url: str
    context: Canary
    server: ServerThread

    def user(self, email: str | None = None, password: str = PASSWORD, **kwargs: Any) -> User:
        with transaction(self.context.factory) as db:
            return create_user(db, email=email or f"user-{secrets.token_hex(6)}@example.com", password=password,
                               **kwargs)

    def stop(self) -> None:
        self.server.stop()


def serve(data_dir: Path, analytics: Any = None, **overrides: Any) -> LiveServer:
    """Canary on SQLite under ``data_dir`` (and ``analytics``, opened and migrated, when given)."""
    port = free_port()
    settings = Settings(issuer=f"http://127.0.0.1:{port}", port=port, data_dir=data_dir,
                        database_url=f"sqlite:///{data_dir / 'canary.db'}", **overrides)
    migrate_sql(settings)
    prepare(settings)
    app = create_app(settings, analytics)
    server = ServerThread(app, port)
    server.start()
    return LiveServer(settings.issuer, app.state.canary, server)
