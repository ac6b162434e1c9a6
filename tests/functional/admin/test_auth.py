"""Only an admin client's own client_credentials token opens the admin API."""

from __future__ import annotations

import httpx

from tests.functional.admin.conftest import Admin, client_credentials_token, new_token
from tests.functional.conftest import Provider
from tests.support.browser import REDIRECT, authorize_params, sign_in
from tests.support.tokens import exchange


def refused(admin: Admin, status: int, error: str, **kwargs: object) -> httpx.Response:
    response = admin.get("/accounts", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and f'error="{error}"' in challenge
    return response


def test_admin_token_is_accepted(admin: Admin) -> None:
    assert admin.get("/accounts").status_code == 200


def test_missing_garbage_and_malformed_tokens(admin: Admin) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}):  # no authentication information (RFC 6750 §3.1)
        response = admin.get("/accounts", token=None, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == 'Bearer realm="canary"'
    for garbage in ("garbage", "a.b.c", "x" * 9000):
        refused(admin, 401, "invalid_token", token=garbage)
    refused(admin, 400, "invalid_request", token=None, headers={"Authorization": "Bearer"})


def test_token_without_admin_scope_is_403(admin: Admin, provider: Provider) -> None:
    token = new_token(provider, scope="events:write", first_party=True)
    response = refused(admin, 403, "insufficient_scope", token=token)
    assert 'scope="admin"' in response.headers["www-authenticate"]


def test_admin_scope_without_admin_client_is_403(admin: Admin, provider: Provider) -> None:
    refused(admin, 403, "insufficient_scope", token=new_token(provider, scope="admin"))


def test_revoked_admin_token_is_401(admin: Admin, provider: Provider) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="admin", admin=True)
    token = client_credentials_token(provider, client_id, secret)
    assert admin.get("/accounts", token=token).status_code == 200
    revoked = httpx.post(f"{provider.url}/revoke", data={"token": token}, auth=(client_id, secret or ""))
    assert revoked.status_code == 200
    refused(admin, 401, "invalid_token", token=token)


def test_demoted_and_deleted_admin_clients_lose_access_at_once(admin: Admin, provider: Provider) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="admin", admin=True)
    token = client_credentials_token(provider, client_id, secret)
    demoted = admin.ok("PATCH", f"/clients/{client_id}", json={"admin": False})
    assert demoted["admin"] is False and "admin" not in demoted["scope"].split()
    refused(admin, 403, "insufficient_scope", token=token)
    admin.ok("PATCH", f"/clients/{client_id}", json={"admin": True})
    assert admin.get("/accounts", token=token).status_code == 200
    admin.ok("DELETE", f"/clients/{client_id}", 204)
    refused(admin, 401, "invalid_token", token=token)


def test_a_users_token_from_an_admin_client_is_not_enough(admin: Admin, provider: Provider) -> None:
    user = provider.user()
    client_id, secret = provider.client(grant_types=["authorization_code"], redirect_uris=[REDIRECT],
                                        scope="openid admin", admin=True, first_party=True)
    with httpx.Client(base_url=provider.url) as browser:
        back = sign_in(browser, authorize_params(client_id, scope="openid admin"), user.email)
    body = exchange(provider, client_id, secret, back["code"]).json()
    assert "admin" in body["scope"].split()
    refused(admin, 403, "insufficient_scope", token=body["access_token"])


def test_openapi_document_needs_no_token(provider: Provider) -> None:
    assert httpx.get(f"{provider.url}/admin/api/openapi.json").status_code == 200
