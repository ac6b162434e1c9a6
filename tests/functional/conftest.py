"""A real Canary over real HTTP: uvicorn on a loopback port, in a thread of the test process; one with analytics
(``ingest``, on the ClickHouse server and on chDB); a webhook receiver."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics.api import Analytics
from analytics.clickhouse import ServerEngine
from idp.accounts.models import User
from idp.accounts.service import add_member, create_organization, create_user
from idp.app import create_app
from idp.cli.serve import prepare
from idp.db import transaction
from idp.migrate import migrate_sql
from idp.oauth.clients import create_client
from idp.settings import Settings
from idp.web.context import Canary
from tests.support.admin_api import AdminApi
from tests.support.browser import PASSWORD, REDIRECT
from tests.support.cli import canary
from tests.support.clickhouse import server_url_for
from tests.support.clock import MovableClock
from tests.support.console import Console, make_admin, sign_in
from tests.support.server_thread import ServerThread, free_port
from tests.support.webhooks import Receiver


@dataclass
class Provider:
    url: str
    settings: Settings
    context: Canary
    clock: MovableClock = field(default_factory=MovableClock)
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> tuple[str, str | None]:
        kwargs.setdefault("name", "test client")
        kwargs.setdefault("redirect_uris", [REDIRECT])
        with transaction(self.context.factory) as db:
            client, secret = create_client(db, **kwargs)
            return client.client_id, secret

    def user(self, email: str | None = None, password: str = PASSWORD, organization: str | None = None,
             **kwargs: Any) -> User:
        email = email or f"user-{secrets.token_hex(6)}@example.com"
        with transaction(self.context.factory) as db:
            user = create_user(db, email=email, password=password, name=kwargs.pop("name", "Test User"), **kwargs)
            if organization:
                from idp.accounts.service import find_organization

                org = find_organization(db, organization) or create_organization(db, slug=organization)
                add_member(db, user, org)
            return user


def start_provider(
    tmp: Path, database_url: str, analytics: Any = None, **overrides: Any
) -> tuple[Provider, ServerThread]:
    port = free_port()
    settings = Settings(issuer=f"http://127.0.0.1:{port}", port=port, data_dir=tmp, database_url=database_url,
                        **overrides)
    migrate_sql(settings)
    prepare(settings)
    clock = MovableClock()
    app = create_app(settings, analytics, clock=clock)
    server = ServerThread(app, port)
    server.start()
    return Provider(url=settings.issuer, settings=settings, context=app.state.canary, clock=clock), server


@pytest.fixture(scope="session")
def provider(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    # Test webhook receivers listen on loopback: the development switch lets the provider reach them.
    prov, server = start_provider(tmp_path_factory.mktemp("data"), database_url, webhook_allow_private=True)
    yield prov
    server.stop()


@pytest.fixture
def http(provider: Provider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as client:
        yield client


@pytest.fixture
def console(provider: Provider) -> Iterator[Console]:
    """A signed-in operator on the shared provider's console."""
    operator = make_admin(provider)
    with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as browser:
        sign_in(browser, operator.email)
        yield Console(browser)


@pytest.fixture
def admin_api(provider: Provider) -> Iterator[AdminApi]:
    """The shared provider's admin API, with a new admin client's token."""
    api = AdminApi(provider)
    yield api
    api.http.close()


@pytest.fixture
def clocked(database_url: str, tmp_path: Path) -> Iterator[Provider]:
    """A provider of the test's own (same database) whose clock the test moves with ``clock.advance``: the
    shared provider's clock stays the wall clock, so its tokens are never issued in the future."""
    prov, server = start_provider(tmp_path, database_url)
    yield prov
    server.stop()


@pytest.fixture
def clocked_http(clocked: Provider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=clocked.url, follow_redirects=False, timeout=30) as client:
        yield client


@pytest.fixture(scope="module", params=["server", "chdb"])
def ingest(request: pytest.FixtureRequest, database_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    tmp = tmp_path_factory.mktemp("ingest")
    url = None
    if request.param == "server":
        request.getfixturevalue("clickhouse_server_url")
        url = server_url_for(f"canary_fn_{uuid.uuid4().hex[:10]}")
    analytics = Analytics.open(url=url, data_dir=tmp, flush_interval=0.2)
    analytics.migrate()
    prov, server = start_provider(tmp, database_url, analytics)
    prov.extra["analytics"] = analytics
    yield prov
    server.stop()
    if url is not None:
        admin = ServerEngine(server_url_for("default"))
        admin.execute(f"DROP DATABASE IF EXISTS `{url.rsplit('/', 1)[1]}`")
        admin.close()


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory whose accounts database is migrated, for ``canary`` commands (``tests.support.cli``)."""
    result = canary(tmp_path, "migrate", "--sql-only")
    assert result.returncode == 0, result.stderr
    return tmp_path
