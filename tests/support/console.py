"""The operator console over HTTP, as a browser uses it: sign in through /authorize, then GET pages and POST
their forms with the CSRF token of the page (the double-submit cookie's value)."""

from __future__ import annotations

import html
import re
from typing import Any, Protocol

import httpx

from idp.accounts.models import User
from idp.db import transaction
from idp.oauth.clients import ensure_dashboard_client
from idp.web.context import Canary
from tests.support.browser import PASSWORD, login


class Server(Protocol):
    """A running test provider (``tests.functional.conftest.Provider``, ``tests.support.live.LiveServer``)."""

    context: Canary

    def user(self, email: str | None = None, password: str = PASSWORD, **kwargs: Any) -> User: ...


def make_admin(prov: Server, **kwargs: Any) -> User:
    """An administrator of ``prov``. The console's client is registered again for ``prov``'s issuer: test
    providers on other ports that share the database (``canary serve`` does this at start) moved its
    redirect URI to theirs."""
    user = prov.user(**kwargs)
    with transaction(prov.context.factory) as db:
        stored = db.get(User, user.id)
        assert stored is not None
        stored.is_admin = True
        ensure_dashboard_client(db, prov.context.settings.issuer)
    return user


def sign_in(http: httpx.Client, email: str, path: str = "/console", password: str = PASSWORD) -> httpx.Response:
    """From a console page to the login form and back to that page; returns the page."""
    first = http.get(path)
    assert first.status_code == 302 and first.headers["location"].startswith("/authorize?"), first.text[:300]
    landed = login(http, http.get(first.headers["location"]), email, password)
    assert landed.status_code == 303 and "/dashboard/callback?code=" in landed.headers["location"], landed.text[:300]
    back = http.get(landed.headers["location"])
    assert back.status_code == 302 and back.headers["location"] == path, back.headers
    return http.get(path)


class Console:
    """A signed-in operator's browser."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params) if params else self.http.get(path)

    def token(self) -> str:
        value = self.http.cookies.get("canary_csrf")
        if not value:
            self.http.get("/console/settings")
            value = self.http.cookies.get("canary_csrf")
        assert value, "no CSRF cookie"
        return value

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None,
             csrf: bool = True) -> httpx.Response:
        pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            pairs.append(("csrf_token", self.token()))
        form: dict[str, list[str]] = {}
        for name, value in pairs:
            form.setdefault(name, []).append(str(value))
        return self.http.post(path, data=form)


def errors(page: httpx.Response) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'<p class="error" role="alert">([^<]*)</p>', page.text)]


def notices(page: httpx.Response) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'<p class="notice" role="status">([^<]*)', page.text)]


def text_of(page: httpx.Response, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page.text)
    assert match, f"no element {element_id} on the page"
    return html.unescape(match.group(1)).strip()
