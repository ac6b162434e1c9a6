"""Passkeys and "confirm it's you" in a real Chromium (WebDriver's virtual authenticator), under the pages'
Content-Security-Policy: a passkey added from a fresh session is mailed to the owner; once the session is older
than the window the security page offers only "confirm it's you", where the password and then the passkey
(through ``/factors/passkeys.js``) renew the session, after which the passkey can be removed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
from selenium.webdriver.support.ui import WebDriverWait

from idp.accounts.reauthentication import WINDOW
from idp.accounts.service import create_user
from idp.app import create_app
from idp.cli.serve import prepare
from idp.db import transaction
from idp.migrate import migrate_sql
from idp.settings import Settings
from idp.web.context import Canary
from tests.support.browser import PASSWORD
from tests.support.chromium import chromium, screenshot
from tests.support.clock import MovableClock

EMAIL = "confirming-user@example.com"
WAIT = 20


@dataclass
class Local:
    url: str
    context: Canary
    settings: Settings
    clock: MovableClock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(driver: WebDriver, condition: Any, name: str) -> None:
    try:
        WebDriverWait(driver, WAIT).until(condition)
    except Exception:
        screenshot(driver, name)
        raise


@pytest.fixture
def local(database_url: str, tmp_path: Path) -> Iterator[Local]:
    """A provider on http://localhost:PORT (a WebAuthn relying party id) whose clock the test moves."""
    port = _free_port()
    settings = Settings(issuer=f"http://localhost:{port}", port=port, data_dir=tmp_path, database_url=database_url)
    migrate_sql(settings)
    prepare(settings)
    clock = MovableClock()
    app = create_app(settings, None, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield Local(settings.issuer, app.state.canary, settings, clock)
    server.should_exit = True
    thread.join(timeout=20)


def sign_in(driver: WebDriver, local: Local) -> None:
    """The password form, reached from the account page (Canary's own client), back on the account page."""
    driver.get(f"{local.url}/account")
    wait_for(driver, lambda d: d.find_elements(By.ID, "password"), "confirm-login-form")
    driver.find_element(By.ID, "email").send_keys(EMAIL)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, lambda d: d.current_url == f"{local.url}/account", "confirm-signed-in")


def subjects(local: Local) -> list[str]:
    local.context.mail.sender.flush()  # no SMTP here: the development outbox
    paths = sorted(local.settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    messages = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in paths]
    return [str(m["Subject"]) for m in messages if m["To"] == EMAIL]


def test_an_old_session_confirms_with_its_passkey_then_removes_it(local: Local) -> None:
    with transaction(local.context.factory) as db:
        create_user(db, email=EMAIL, password=PASSWORD, name="Pat")
    with chromium() as driver:
        driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
            protocol=Protocol.CTAP2, transport=Transport.INTERNAL, has_resident_key=True,
            has_user_verification=True, is_user_verified=True))
        sign_in(driver, local)

        driver.get(f"{local.url}/account/security")
        driver.find_element(By.ID, "passkey-name").clear()
        driver.find_element(By.ID, "passkey-name").send_keys("Work laptop")
        driver.find_element(By.CSS_SELECTOR, "[data-passkey=register]").click()
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-passkey-item]"), "confirm-registered")
        assert subjects(local) == ["A second factor was added to your Canary account"]

        local.clock.advance(WINDOW.total_seconds() + 1)
        driver.get(f"{local.url}/account/security")
        assert driver.find_elements(By.CSS_SELECTOR, "[data-confirm-needed]")
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-passkey=register]")
        assert not driver.find_elements(By.CSS_SELECTOR, "form[action='/account/security/passkey-remove']")
        driver.find_element(By.CSS_SELECTOR, "[data-confirm-needed] button").click()
        wait_for(driver, lambda d: d.find_elements(By.ID, "password"), "confirm-password-page")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(driver, lambda d: "/account/security/confirm/second-factor" in d.current_url, "confirm-second-step")
        button = driver.find_element(By.CSS_SELECTOR, "[data-passkey=second-factor]")
        assert button.is_displayed(), "the script runs under the page's policy and shows the passkey button"
        screenshot(driver, "confirm-second-step")
        button.click()
        wait_for(driver, lambda d: d.current_url == f"{local.url}/account/security", "confirm-done")
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-confirm-needed]")

        driver.find_element(By.CSS_SELECTOR, "form[action='/account/security/passkey-remove'] button").click()
        wait_for(driver, lambda d: "No passkeys." in d.page_source, "confirm-removed")
        assert subjects(local) == ["A second factor was added to your Canary account",
                                   "A second factor was removed from your Canary account"]
