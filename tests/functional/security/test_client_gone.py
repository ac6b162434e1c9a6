"""A deleted client's tokens are inactive everywhere: introspection, UserInfo."""

from __future__ import annotations

import httpx

from idp.db import transaction
from idp.oauth.clients import delete_client
from idp.oauth.models import Client
from tests.functional.conftest import Provider
from tests.support.tokens import tokens_for


def _delete(provider: Provider, client_id: str) -> None:
    with transaction(provider.context.factory) as db:
        client = db.get(Client, client_id)
        assert client is not None
        delete_client(db, client)


def test_deleted_clients_tokens_are_inactive(provider: Provider, http: httpx.Client) -> None:
    client_id, _, tokens = tokens_for(provider, http)
    rs_id, rs_secret = provider.client(name="resource server", grant_types=["client_credentials"],
                                       redirect_uris=[])
    assert rs_secret is not None
    auth = (rs_id, rs_secret)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert httpx.post(f"{provider.url}/introspect", data={"token": token}, auth=auth).json()["active"] is True
    _delete(provider, client_id)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert httpx.post(f"{provider.url}/introspect", data={"token": token}, auth=auth).json() == {"active": False}
    info = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401 and "invalid_token" in info.headers["www-authenticate"]
