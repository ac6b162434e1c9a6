"""Passkeys in a real Chromium with WebDriver's virtual authenticator (CTAP2, internal, resident keys, user
verification): register one from the security page, sign in with it without a password, use it as the second
factor after a password, and read the ID token's amr. WebAuthn needs a secure context: http://localhost is one,
and the relying party id is the issuer's host, so this provider's issuer is http://localhost:PORT."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from idp.accounts.models import Passkey
from idp.accounts.service import create_user
from idp.db import transaction
from idp.oauth.clients import create_client
from idp.web.context import Canary
from tests.support.browser import PASSWORD
from tests.support.chromium import chromium, screenshot
from tests.support.tokens import id_claims
from tests.support.webauthn_browser import add_authenticator, localhost_provider, wait_for


@dataclass
class LocalProvider:
    url: str
    context: Canary
    client_id: str
    secret: str
    redirect_uri: str


@pytest.fixture
def local(database_url: str, tmp_path: Path) -> Iterator[LocalProvider]:
    with localhost_provider(database_url, tmp_path) as context:
        redirect = f"{context.settings.issuer}/healthz"
        with transaction(context.factory) as db:
            client, secret = create_client(db, name="Passkey app", redirect_uris=[redirect], first_party=True)
            client_id = client.client_id
        assert secret is not None
        yield LocalProvider(context.settings.issuer, context, client_id, secret, redirect)


def authorize_url(local: LocalProvider) -> str:
    return f"{local.url}/authorize?" + urlencode({
        "client_id": local.client_id, "redirect_uri": local.redirect_uri, "response_type": "code",
        "scope": "openid email", "state": "s-1", "nonce": "n-1"})


def code_from(driver: WebDriver, local: LocalProvider, name: str) -> str:
    wait_for(driver, lambda d: d.current_url.startswith(local.redirect_uri), name)
    query = parse_qs(urlsplit(driver.current_url).query)
    assert query["state"] == ["s-1"], driver.current_url
    return query["code"][0]


def id_token_claims(local: LocalProvider, code: str) -> dict[str, Any]:
    response = httpx.post(f"{local.url}/token", auth=(local.client_id, local.secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": local.redirect_uri})
    assert response.status_code == 200, response.text
    return id_claims(local, response.json()["id_token"])  # type: ignore[arg-type]


def password_sign_in(driver: WebDriver, local: LocalProvider, email: str) -> None:
    driver.get(authorize_url(local))
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def test_register_a_passkey_then_sign_in_with_it_with_and_without_a_password(local: LocalProvider) -> None:
    with transaction(local.context.factory) as db:
        user = create_user(db, email="passkey-user@example.com", password=PASSWORD, name="Pat")
        user_id = user.id
    with chromium() as driver:
        add_authenticator(driver)
        password_sign_in(driver, local, "passkey-user@example.com")
        assert id_token_claims(local, code_from(driver, local, "passkeys-password"))["amr"] == ["pwd"]

        driver.get(f"{local.url}/account/security")
        assert "No passkeys." in driver.page_source
        driver.find_element(By.ID, "passkey-name").clear()
        driver.find_element(By.ID, "passkey-name").send_keys("Test laptop")
        driver.find_element(By.CSS_SELECTOR, "[data-passkey=register]").click()
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-passkey-item]"), "passkeys-registered")
        assert "Test laptop" in driver.page_source
        screenshot(driver, "passkeys-security-page")
        with local.context.factory() as db:
            stored = db.query(Passkey).filter_by(user_id=user_id).all()
            assert len(stored) == 1 and stored[0].name == "Test laptop"

        driver.delete_all_cookies()
        driver.get(authorize_url(local))
        button = driver.find_element(By.CSS_SELECTOR, "[data-passkey=signin]")
        assert button.is_displayed(), "the script shows the passkey button"
        button.click()
        claims = id_token_claims(local, code_from(driver, local, "passkeys-passwordless"))
        assert claims["sub"] == user_id
        assert claims["amr"] == ["hwk", "mfa"] and claims["acr"] == "urn:canary:acr:mfa"

        driver.delete_all_cookies()
        password_sign_in(driver, local, "passkey-user@example.com")
        wait_for(driver, lambda d: "/login/second-factor" in d.current_url, "passkeys-second-step")
        screenshot(driver, "passkeys-second-step")
        driver.find_element(By.CSS_SELECTOR, "[data-passkey=second-factor]").click()
        claims = id_token_claims(local, code_from(driver, local, "passkeys-second-factor"))
        assert claims["amr"] == ["pwd", "hwk", "mfa"] and claims["acr"] == "urn:canary:acr:mfa"


def test_without_a_registered_passkey_the_page_says_so_and_no_session_starts(local: LocalProvider) -> None:
    """Without a registered passkey, the passwordless ceremony fails and the page says so; no session starts."""
    with chromium() as driver:
        add_authenticator(driver)
        driver.get(authorize_url(local))
        driver.find_element(By.CSS_SELECTOR, "[data-passkey=signin]").click()
        error = driver.find_element(By.CSS_SELECTOR, "[data-passkey-error]")
        wait_for(driver, lambda d: error.is_displayed(), "passkeys-none-registered")
        assert driver.get_cookie("canary_session") is None
