"""Canary's own clients, the console's (``canary-dashboard``) and the account page's (``canary-account``), are
read like any other but never changed, given a secret or deleted: people sign in to Canary's pages with them.
The admin API answers 409, the console a 409 page saying why; the clients stay as they were."""

from __future__ import annotations

import httpx
import pytest

from idp.oauth.models import Client
from idp.oauth.user_grants import ACCOUNT_CLIENT_ID, INTERNAL, ensure_account_client
from tests.functional.admin.conftest import Admin
from tests.functional.conftest import Provider
from tests.support.console import Console, errors


def _stored(provider: Provider, client_id: str) -> tuple[str, list[str], str | None]:
    with provider.context.factory() as db:
        client = db.get(Client, client_id)
        assert client is not None, f"{client_id} was deleted"
        return client.name, list(client.redirect_uris), client.secret_hash


@pytest.mark.parametrize("client_id", INTERNAL)
def test_the_admin_api_reads_but_does_not_change_canarys_own_clients(admin: Admin, provider: Provider,
                                                                     client_id: str) -> None:
    before = _stored(provider, client_id)
    assert admin.ok("GET", f"/clients/{client_id}")["client_id"] == client_id
    path = f"/clients/{client_id}"
    for method, where, kwargs in [("PATCH", path, {"json": {"name": "x", "redirect_uris": ["https://evil.example/cb"]}}),
                                  ("PATCH", path, {"json": {"admin": True}}),
                                  ("POST", f"{path}/secret", {}),
                                  ("DELETE", path, {})]:
        body = admin.error(method, where, 409, "conflict", **kwargs)
        assert client_id in body["error_description"] and "Canary's own client" in body["error_description"]
        assert "signs" in body["error_description"]  # says who signs in with it
    assert _stored(provider, client_id) == before


@pytest.mark.parametrize("client_id", INTERNAL)
def test_the_console_does_not_change_canarys_own_clients(console: Console, provider: Provider,
                                                         client_id: str) -> None:
    before = _stored(provider, client_id)
    assert console.get(f"/console/clients/{client_id}").status_code == 200
    for path in (f"/console/clients/{client_id}", f"/console/clients/{client_id}/secret",
                 f"/console/clients/{client_id}/delete"):
        refused = console.post(path, {"name": "x", "redirect_uris": "https://evil.example/cb"})
        assert refused.status_code == 409, (path, refused.status_code)
        [message] = errors(refused)
        assert client_id in message and "cannot be changed or deleted" in message
    assert _stored(provider, client_id) == before
    assert console.get("/console/users").status_code == 200  # the operator is still signed in through it


def test_the_account_page_still_signs_in_after_a_refused_delete(console: Console, provider: Provider) -> None:
    with provider.context.factory() as db:  # as `canary serve` does at start: this provider's address registered
        ensure_account_client(db, provider.settings.issuer)  # (other providers of the run share the database)
        db.commit()
    assert console.post(f"/console/clients/{ACCOUNT_CLIENT_ID}/delete").status_code == 409
    with httpx.Client(base_url=provider.url, follow_redirects=False) as browser:
        start = browser.get("/account")
        assert start.status_code == 302
        assert start.headers["location"].startswith(f"/authorize?client_id={ACCOUNT_CLIENT_ID}")
        assert browser.get(start.headers["location"]).status_code == 200  # the login form, not invalid_client
