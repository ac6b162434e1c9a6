"""A deleted or disabled client's tokens are inactive everywhere: introspection, UserInfo, events; a disabled
client cannot authenticate or start a sign-in."""

from __future__ import annotations

import httpx

from idp.db import transaction
from idp.oauth.clients import delete_client, update_client
from idp.oauth.models import Client
from tests.functional.conftest import Provider
from tests.support.browser import authorize_params
from tests.support.tokens import tokens_for


def _introspect(provider: Provider, token: str, auth: tuple[str, str]) -> dict:
    return dict(httpx.post(f"{provider.url}/introspect", data={"token": token}, auth=auth).json())


def _resource_server(provider: Provider) -> tuple[str, str]:
    rs_id, rs_secret = provider.client(name="resource server", grant_types=["client_credentials"],
                                       redirect_uris=[], resource_server=True)
    assert rs_secret is not None
    return rs_id, rs_secret


def _userinfo_refused(provider: Provider, token: str) -> bool:
    info = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"})
    return info.status_code == 401 and "invalid_token" in info.headers["www-authenticate"]


def test_deleted_clients_tokens_are_inactive(provider: Provider, http: httpx.Client) -> None:
    client_id, _, tokens = tokens_for(provider, http)
    auth = _resource_server(provider)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert _introspect(provider, token, auth)["active"] is True
    with transaction(provider.context.factory) as db:
        client = db.get(Client, client_id)
        assert client is not None
        delete_client(db, client)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert _introspect(provider, token, auth) == {"active": False}
    assert _userinfo_refused(provider, tokens["access_token"])


def test_disabled_clients_tokens_are_inactive_until_enabled(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, tokens = tokens_for(provider, http)
    assert secret is not None
    auth = _resource_server(provider)

    def disabled(value: bool) -> None:
        with transaction(provider.context.factory) as db:
            client = db.get(Client, client_id)
            assert client is not None
            update_client(db, client, disabled=value)

    disabled(True)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert _introspect(provider, token, auth) == {"active": False}
    assert _userinfo_refused(provider, tokens["access_token"])
    refresh = httpx.post(f"{provider.url}/token", data={"grant_type": "refresh_token",
                                                        "refresh_token": tokens["refresh_token"]},
                         auth=(client_id, secret))
    assert refresh.status_code == 401 and refresh.json()["error"] == "invalid_client"
    page = http.get("/authorize", params=authorize_params(client_id))
    assert page.status_code == 400 and "unknown client_id" in page.text
    disabled(False)
    assert _introspect(provider, tokens["access_token"], auth)["active"] is True
    assert not _userinfo_refused(provider, tokens["access_token"])
