"""Who may introspect: the token's own client and registered resource servers; claims only within scope."""

from __future__ import annotations

import httpx

from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, sign_in
from tests.support.tokens import exchange


def _user_tokens(provider: Provider, http: httpx.Client, scope: str) -> tuple[tuple[str, str], dict]:
    user = provider.user()
    client_id, secret = provider.client(first_party=True, scope=scope)
    assert secret is not None
    back = sign_in(http, authorize_params(client_id, scope=scope), user.email)
    response = exchange(provider, client_id, secret, back["code"])
    assert response.status_code == 200, response.text
    return (client_id, secret), response.json()


def _introspect(provider: Provider, token: str, auth: tuple[str, str]) -> dict:
    response = httpx.post(f"{provider.url}/introspect", data={"token": token}, auth=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _confidential(provider: Provider, **kwargs: object) -> tuple[str, str]:
    client_id, secret = provider.client(name="another API", grant_types=["client_credentials"], redirect_uris=[],
                                        scope="events:write", **kwargs)
    assert secret is not None
    return client_id, secret


def test_another_confidential_client_learns_nothing(provider: Provider, http: httpx.Client) -> None:
    _, tokens = _user_tokens(provider, http, "openid email offline_access")
    stranger = _confidential(provider)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert _introspect(provider, token, stranger) == {"active": False}


def test_own_client_and_resource_servers_introspect(provider: Provider, http: httpx.Client) -> None:
    own, tokens = _user_tokens(provider, http, "openid email offline_access")
    resource_server = _confidential(provider, resource_server=True)
    for auth in (own, resource_server):
        answer = _introspect(provider, tokens["access_token"], auth)
        assert answer["active"] is True and answer["client_id"] == own[0]
        assert "@" in answer["username"]  # the email scope was granted
        assert _introspect(provider, tokens["refresh_token"], auth)["active"] is True


def test_no_email_without_the_email_scope(provider: Provider, http: httpx.Client) -> None:
    own, tokens = _user_tokens(provider, http, "openid offline_access")
    resource_server = _confidential(provider, resource_server=True)
    for auth in (own, resource_server):
        answer = _introspect(provider, tokens["access_token"], auth)
        assert answer["active"] is True and "username" not in answer and "email" not in answer
        assert not any("@" in str(value) for value in answer.values())


def test_resource_server_flag_through_the_cli_and_the_admin_api(provider: Provider) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "CANARY_DATABASE_URL": provider.settings.database_url,
           "CANARY_DATA_DIR": str(provider.settings.data_dir), "CANARY_ISSUER": provider.url}
    created = subprocess.run([sys.executable, "-m", "idp.cli", "clients", "create", "Orders API", "--grant-type",
                              "client_credentials", "--scope", "events:write", "--resource-server",
                              "--json"],
                             env=env, capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(created.stdout)["resource_server"] is True
    admin_id, admin_secret = provider.client(name="ops", grant_types=["client_credentials"], redirect_uris=[],
                                             scope="admin", admin=True)
    token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": "admin"},
                       auth=(admin_id, admin_secret or "")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"name": "Billing API", "grant_types": ["client_credentials"], "scope": "events:write",
            "resource_server": True}
    response = httpx.post(f"{provider.url}/admin/api/v1/clients", json=body, headers=headers)
    assert response.status_code == 201 and response.json()["resource_server"] is True
    client_id = response.json()["client_id"]
    patched = httpx.patch(f"{provider.url}/admin/api/v1/clients/{client_id}", json={"resource_server": False},
                          headers=headers)
    assert patched.status_code == 200 and patched.json()["resource_server"] is False
