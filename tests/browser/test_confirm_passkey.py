"""Passkeys and "confirm it's you" in a real Chromium (WebDriver's virtual authenticator), under the pages'
Content-Security-Policy: a passkey added from a fresh session is mailed to the owner; once the session is older
than the window the security page offers only "confirm it's you", where the password and then the passkey
(through ``/factors/passkeys.js``) renew the session, after which the passkey can be removed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from idp.accounts.reauthentication import WINDOW
from idp.accounts.service import create_user
from idp.db import transaction
from idp.settings import Settings
from idp.web.context import Canary
from tests.support.browser import PASSWORD
from tests.support.chromium import chromium, screenshot
from tests.support.clock import MovableClock
from tests.support.webauthn_browser import add_authenticator, localhost_provider, wait_for

EMAIL = "confirming-user@example.com"


@dataclass
class Local:
    url: str
    context: Canary
    settings: Settings
    clock: MovableClock


@pytest.fixture
def local(database_url: str, tmp_path: Path) -> Iterator[Local]:
    """A provider on http://localhost:PORT (a WebAuthn relying party id) whose clock the test moves."""
    clock = MovableClock()
    with localhost_provider(database_url, tmp_path, clock) as context:
        yield Local(context.settings.issuer, context, context.settings, clock)


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
        add_authenticator(driver)
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
