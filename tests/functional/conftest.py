"""A real Canary over real HTTP: uvicorn on a loopback port, in a thread of the test process."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn

from idp.accounts.models import User
from idp.accounts.service import add_member, create_organization, create_user
from idp.app import create_app
from idp.cli import prepare
from idp.db import transaction
from idp.migrate import migrate_sql
from idp.oauth.clients import create_client
from idp.settings import Settings
from idp.web.context import Canary
from tests.support.clock import MovableClock

PASSWORD = "correct horse battery"
REDIRECT = "https://rp.example.com/callback"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerThread:
    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


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
    prov, server = start_provider(tmp_path_factory.mktemp("data"), database_url)
    yield prov
    server.stop()


@pytest.fixture
def http(provider: Provider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as client:
        yield client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in page"
    import html as html_lib

    return html_lib.unescape(match.group(1))


def login(http: httpx.Client, page: httpx.Response, email: str, password: str = PASSWORD) -> httpx.Response:
    assert page.status_code == 200 and 'name="password"' in page.text, page.text[:500]
    return http.post("/login", data={
        "csrf_token": hidden(page.text, "csrf_token"),
        "authorization_request": hidden(page.text, "authorization_request"),
        "email": email, "password": password,
    })


def consent(http: httpx.Client, page: httpx.Response, decision: str = "allow") -> httpx.Response:
    assert page.status_code == 200 and 'name="decision"' in page.text, page.text[:500]
    return http.post("/consent", data={
        "csrf_token": hidden(page.text, "csrf_token"),
        "authorization_request": hidden(page.text, "authorization_request"),
        "decision": decision,
    })


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(client_id: str, challenge: str | None = None, **extra: str) -> dict[str, str]:
    params = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "openid profile email offline_access", "state": secrets.token_urlsafe(8),
              "nonce": secrets.token_urlsafe(8)}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v != ""}


def sign_in(http: httpx.Client, params: dict[str, str], email: str, password: str = PASSWORD,
            approve: bool = True) -> dict[str, str]:
    """Browser flow to the redirect: /authorize → login form → (consent) → code."""
    response = http.get("/authorize", params=params)
    if response.status_code == 200 and 'name="password"' in response.text:
        response = login(http, response, email, password)
    if response.status_code == 200 and 'name="decision"' in response.text:
        response = consent(http, response, "allow" if approve else "deny")
    return redirect_params(response)
