"""A real Canary for the resource-server kit: uvicorn on a loopback port with ingest on the ClickHouse server,
users signed in through the browser flow for their access tokens, and Canary's answers about who was active.

The live server is built as tests/functional/conftest.py builds its own (the test modules here may not import
that package's conftest)."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from analytics.api import Analytics
from analytics.clickhouse import ServerEngine
from idp.accounts.models import User
from idp.accounts.service import create_user
from idp.app import create_app
from idp.cli.serve import prepare
from idp.db import transaction
from idp.migrate import migrate_sql
from idp.oauth.clients import create_client
from idp.settings import Settings
from idp.web.context import Canary as Context
from tests.support.browser import PASSWORD, REDIRECT, authorize_params, sign_in
from tests.support.clickhouse import server_url_for
from tests.support.server_thread import ServerThread, free_port
from tests.support.tokens import exchange

API_SCOPE = "reports:read"




@dataclass
class Canary:
    """The provider under test, a resource server's client, and helpers to get tokens and read activity."""

    url: str
    settings: Settings
    context: Context
    analytics: Analytics
    analytics_url: str
    rs_id: str
    rs_secret: str
    admin_token: str
    last_client: tuple[str, str] = ("", "")

    def client(self, **kwargs: Any) -> tuple[str, str | None]:
        kwargs.setdefault("name", "test client")
        kwargs.setdefault("redirect_uris", [REDIRECT])
        with transaction(self.context.factory) as db:
            client, secret = create_client(db, **kwargs)
            return client.client_id, secret

    def user(self) -> User:
        with transaction(self.context.factory) as db:
            return create_user(db, email=f"user-{secrets.token_hex(6)}@example.com", password=PASSWORD,
                               name="Test User")

    def user_token(self, scope: str = f"openid {API_SCOPE}", **client: Any) -> tuple[User, str]:
        """A signed-in user's access token, through /authorize, the login form and /token."""
        user = self.user()
        client_id, secret = self.client(first_party=True, scope=f"openid {API_SCOPE} events:write",
                                                 **client)
        with httpx.Client(base_url=self.url, follow_redirects=False, timeout=30) as browser:
            back = sign_in(browser, authorize_params(client_id, scope=scope), user.email)
        response = exchange(self, client_id, secret, back["code"])
        assert response.status_code == 200, response.text
        self.last_client = (client_id, secret or "")
        return user, response.json()["access_token"]

    def activity(self, account: str) -> dict[str, Any]:
        """Canary's answer for one account (admin API), once the spool has reached ClickHouse."""
        self.analytics.flush(20)
        response = httpx.get(f"{self.url}/admin/api/v1/accounts/{account}/activity",
                             headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=30)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def events_of(self, account: str) -> dict[str, int]:
        counts: dict[str, int] = self.activity(account)["events_by_name"]
        return counts

    def stored(self, where: str) -> list[dict[str, Any]]:
        self.analytics.flush(20)
        rows = self.analytics.clickhouse.execute(
            "SELECT toString(event_id) AS id, account, organization, name, properties FROM events FINAL "
            f"WHERE {where} ORDER BY timestamp, id")
        return rows.dicts()


def client_credentials(url: str, client_id: str, secret: str, scope: str = "admin") -> str:
    response = httpx.post(f"{url}/token", data={"grant_type": "client_credentials", "scope": scope},
                          auth=(client_id, secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def canary(clickhouse_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    tmp = tmp_path_factory.mktemp("kit")
    url = server_url_for(f"canary_kit_{uuid.uuid4().hex[:10]}")
    analytics = Analytics.open(url=url, data_dir=tmp, flush_interval=0.2)
    analytics.migrate()
    port = free_port()
    settings = Settings(issuer=f"http://127.0.0.1:{port}", port=port, data_dir=tmp,
                        database_url=f"sqlite:///{tmp / 'canary.db'}")
    migrate_sql(settings)
    prepare(settings)
    app = create_app(settings, analytics)
    server = ServerThread(app, port)
    server.start()
    canary = Canary(settings.issuer, settings, app.state.canary, analytics, url, "", "", "")
    canary.rs_id, rs_secret = canary.client(name="reports API", grant_types=["client_credentials"],
                                            scope="events:write", first_party=True, resource_server=True)
    admin_id, admin_secret = canary.client(name="ops", grant_types=["client_credentials"], admin=True,
                                           scope="admin")
    assert rs_secret and admin_secret
    canary.rs_secret = rs_secret
    canary.admin_token = client_credentials(canary.url, admin_id, admin_secret)
    yield canary
    server.stop()
    analytics.close()
    admin = ServerEngine(server_url_for("default"))
    try:
        admin.execute(f"DROP DATABASE IF EXISTS `{url.rsplit('/', 1)[1]}`")
    finally:
        admin.close()


class AppServer:
    """An ASGI app under uvicorn or a WSGI app under werkzeug, on a loopback port in a thread of the tests."""

    def __init__(self, app: Any, wsgi: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._asgi: ServerThread | None = None
        self._wsgi: Any = None
        if wsgi:
            from werkzeug.serving import make_server

            self._wsgi = make_server("127.0.0.1", self.port, app, threaded=True)
            self._thread = threading.Thread(target=self._wsgi.serve_forever, daemon=True)
        else:
            self._asgi = ServerThread(app, self.port)

    def __enter__(self) -> AppServer:
        if self._asgi is not None:
            self._asgi.start()
        else:
            self._thread.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    httpx.get(self.url + "/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._asgi is not None:
            self._asgi.stop()
        else:
            self._wsgi.shutdown()
            self._thread.join(10)
            self._wsgi.server_close()
