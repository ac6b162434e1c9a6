"""The login page people expect: the client's name and logo, the address kept after a failed attempt, "Forgot
password?" carrying the authorization request, no "Create an account" while sign-up is off."""

from __future__ import annotations

import html
import re

import httpx

from tests.functional.conftest import Provider
from tests.support.browser import login
from tests.support.relying_party import RelyingParty


def test_login_page_shows_the_client_and_keeps_the_address(provider_m: Provider, browser: httpx.Client) -> None:
    client_id, secret = provider_m.client(name="Orbit Notes", first_party=True,
                                          logo_uri="https://cdn.example.com/orbit.png")
    rp = RelyingParty(provider_m.url, client_id, secret)
    page = browser.get(rp.authorization_url())
    assert "Sign in to Orbit Notes" in page.text
    assert '<img src="https://cdn.example.com/orbit.png" alt="Orbit Notes" class="client-logo">' in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://cdn.example.com;" in policy  # the logo may load; nothing else new
    assert "style=" not in page.text  # inline style attributes are refused by the policy
    assert "Create an account" not in page.text
    failed = login(browser, page, "someone@example.com", "not the password")
    assert "Wrong e-mail or password" in failed.text and 'value="someone@example.com"' in failed.text
    forgot = re.search(r'href="([^"]*)">Forgot password\?', failed.text)
    assert forgot
    form = browser.get(html.unescape(forgot.group(1)))
    back = re.search(r'href="(/authorize\?[^"]*)">Back to sign in', form.text)
    assert back and f"client_id={client_id}" in html.unescape(back.group(1))
    assert "Sign in to Orbit Notes" in browser.get(html.unescape(back.group(1))).text
