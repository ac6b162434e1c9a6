"""What the passkey browser tests share: a provider on http://localhost:PORT (an IP address cannot be a WebAuthn
relying party id), served by uvicorn in a thread; a virtual authenticator; a wait that leaves a screenshot."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
from selenium.webdriver.support.ui import WebDriverWait

from idp.app import create_app
from idp.cli.serve import prepare
from idp.clock import SYSTEM_CLOCK, Clock
from idp.migrate import migrate_sql
from idp.settings import Settings
from idp.web.context import Canary
from tests.support.chromium import screenshot
from tests.support.server_thread import free_port

WAIT = 20


@contextmanager
def localhost_provider(database_url: str, data_dir: Path, clock: Clock = SYSTEM_CLOCK) -> Iterator[Canary]:
    """A provider whose issuer is http://localhost:PORT, until the block ends; its context (``settings.issuer``
    is its URL)."""
    port = free_port()
    settings = Settings(issuer=f"http://localhost:{port}", port=port, data_dir=data_dir, database_url=database_url)
    migrate_sql(settings)
    prepare(settings)
    app = create_app(settings, None, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield app.state.canary
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def add_authenticator(driver: WebDriver) -> None:
    """A platform authenticator that holds discoverable credentials and verifies its user."""
    driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
        protocol=Protocol.CTAP2, transport=Transport.INTERNAL, has_resident_key=True, has_user_verification=True,
        is_user_verified=True))


def wait_for(driver: WebDriver, condition: Any, name: str) -> None:
    """Wait for ``condition``; on a timeout, a screenshot named ``name`` is kept before the failure."""
    try:
        WebDriverWait(driver, WAIT).until(condition)
    except Exception:
        screenshot(driver, name)
        raise
