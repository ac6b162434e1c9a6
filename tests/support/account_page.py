"""A browser's side of ``/account`` over HTTP: signing in to it through Canary's own client, and its forms."""

from __future__ import annotations

import httpx

from tests.support.browser import PASSWORD, hidden, login


def open_account(browser: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    first = browser.get("/account")
    if first.status_code == 200:
        return first
    assert first.status_code == 302 and first.headers["location"].startswith("/authorize?client_id=canary-account")
    landed = login(browser, browser.get(first.headers["location"]), email, password)
    assert landed.status_code == 303 and "/account/callback" in landed.headers["location"], landed.text
    page = browser.get("/account", follow_redirects=False)
    assert page.status_code == 200, page.text
    return page


def post(browser: httpx.Client, page: httpx.Response, path: str, **fields: str) -> httpx.Response:
    """One of the page's forms, with its CSRF token."""
    return browser.post(path, data={"csrf_token": hidden(page.text, "csrf_token"), **fields})
