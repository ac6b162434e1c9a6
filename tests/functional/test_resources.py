"""Userinfo, introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from idp.accounts.models import User
from tests.functional.conftest import Provider
from tests.support.tokens import decode, introspect, tokens_for


def test_userinfo_get_post_header_and_body(provider: Provider, http: httpx.Client) -> None:
    _, _, body = tokens_for(provider, http)
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    sub = decode(provider, body["id_token"]).claims["sub"]
    for response in (
        httpx.get(f"{provider.url}/userinfo", headers=bearer),
        httpx.post(f"{provider.url}/userinfo", headers=bearer),
        httpx.post(f"{provider.url}/userinfo", data={"access_token": body["access_token"]}),
    ):
        assert response.status_code == 200, response.text
        info = response.json()
        assert info["sub"] == sub and "email" in info and "name" in info


def test_userinfo_claims_follow_scope(provider: Provider, http: httpx.Client) -> None:
    from tests.support.browser import authorize_params, sign_in
    from tests.support.tokens import exchange

    user = provider.user(name="Scope Person")
    client_id, secret = provider.client(first_party=True)
    back = sign_in(http, authorize_params(client_id, scope="openid email"), user.email)
    token = exchange(provider, client_id, secret, back["code"]).json()["access_token"]
    info = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
    assert info["email"] == user.email and "name" not in info


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_userinfo_rejects_bad_tokens_with_bearer_challenge(provider: Provider, token: str) -> None:
    response = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_userinfo_without_token_is_401(provider: Provider) -> None:
    response = httpx.get(f"{provider.url}/userinfo")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


def test_tampered_access_token_is_rejected(provider: Provider, http: httpx.Client) -> None:
    _, _, body = tokens_for(provider, http)
    header, payload, signature = body["access_token"].split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    response = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {header}.{payload}.{flipped}"})
    assert response.status_code == 401


def test_expired_access_token_is_rejected(provider: Provider, http: httpx.Client) -> None:
    from idp.db import utcnow

    _, _, body = tokens_for(provider, http)
    claims = provider.context.tokens.decode(body["access_token"])
    later = utcnow().fromtimestamp(claims["exp"] + 1, tz=utcnow().tzinfo)
    from idp.oauth.tokens import InvalidToken

    with pytest.raises(InvalidToken):
        provider.context.tokens.decode(body["access_token"], now=later)


def test_client_credentials_token_cannot_read_userinfo(provider: Provider) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret or "")).json()["access_token"]
    response = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (401, 403)


def test_introspection_active_and_inactive(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    active = introspect(provider, body["access_token"], auth)
    assert active["active"] is True and active["client_id"] == client_id and active["token_type"] == "Bearer"
    assert introspect(provider, body["refresh_token"], auth)["active"] is True
    assert introspect(provider, "unknown-token", auth) == {"active": False}
    with provider.context.factory() as db:
        assert active["username"] == db.get(User, body["user"]).email


def test_concurrent_introspections_each_name_their_own_user(provider: Provider) -> None:
    rs_id, rs_secret = provider.client(grant_types=["client_credentials"], scope="events:write", resource_server=True)
    expected = {}
    for _ in range(3):
        with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as browser:  # its own sign-in
            _, _, body = tokens_for(provider, browser)
        with provider.context.factory() as db:
            expected[body["access_token"]] = db.get(User, body["user"]).email
    assert len(set(expected.values())) == 3

    def names(token: str) -> list[tuple[str, str]]:
        return [(token, introspect(provider, token, (rs_id, rs_secret or ""))["username"]) for _ in range(8)]

    with ThreadPoolExecutor(6) as pool:
        seen = [pair for pairs in pool.map(names, list(expected) * 2) for pair in pairs]
    assert all(name == expected[token] for token, name in seen)


def test_a_deleted_clients_tokens_are_inactive(provider: Provider) -> None:
    from idp.db import transaction
    from idp.oauth.clients import delete_client
    from idp.oauth.models import Client

    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret or "")).json()["access_token"]
    rs_id, rs_secret = provider.client(grant_types=["client_credentials"], scope="events:write", resource_server=True)
    seen = introspect(provider, token, (rs_id, rs_secret or ""))
    assert seen["active"] is True and "username" not in seen
    with transaction(provider.context.factory) as db:
        client = db.get(Client, client_id)
        assert client is not None
        delete_client(db, client)
    assert introspect(provider, token, (rs_id, rs_secret or "")) == {"active": False}


def test_resource_server_may_introspect_other_clients_tokens(provider: Provider, http: httpx.Client) -> None:
    _, _, body = tokens_for(provider, http)
    rs_id, rs_secret = provider.client(grant_types=["client_credentials"], scope="events:write", resource_server=True)
    assert introspect(provider, body["access_token"], (rs_id, rs_secret or ""))["active"] is True


def test_introspection_requires_client_authentication(provider: Provider, http: httpx.Client) -> None:
    _, _, body = tokens_for(provider, http)
    response = httpx.post(f"{provider.url}/introspect", data={"token": body["access_token"]})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_revoke_access_token(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    response = httpx.post(f"{provider.url}/revoke", data={"token": body["access_token"],
                                                          "token_type_hint": "access_token"}, auth=auth)
    assert response.status_code == 200
    assert introspect(provider, body["access_token"], auth) == {"active": False}
    assert httpx.get(f"{provider.url}/userinfo",
                     headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 401
    assert introspect(provider, body["refresh_token"], auth)["active"] is True


def test_revoke_refresh_token_revokes_family_access_tokens(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    assert httpx.post(f"{provider.url}/revoke", data={"token": body["refresh_token"]}, auth=auth).status_code == 200
    assert introspect(provider, body["access_token"], auth) == {"active": False}
    assert introspect(provider, body["refresh_token"], auth) == {"active": False}


def test_revoke_unknown_token_is_200(provider: Provider) -> None:
    client_id, secret = provider.client()
    response = httpx.post(f"{provider.url}/revoke", data={"token": "never-issued"}, auth=(client_id, secret or ""))
    assert response.status_code == 200


def test_other_clients_cannot_revoke_my_token(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    other_id, other_secret = provider.client()
    response = httpx.post(f"{provider.url}/revoke", data={"token": body["refresh_token"]},
                          auth=(other_id, other_secret or ""))
    assert response.status_code == 200
    assert introspect(provider, body["refresh_token"], (client_id, secret or ""))["active"] is True


def test_disabled_user_tokens_stop_working(provider: Provider, http: httpx.Client) -> None:
    from idp.accounts.models import User
    from idp.db import transaction

    client_id, secret, body = tokens_for(provider, http)
    with transaction(provider.context.factory) as db:
        db.get(User, body["user"]).disabled = True
    assert introspect(provider, body["access_token"], (client_id, secret or "")) == {"active": False}


def test_public_clients_cannot_introspect(provider: Provider, http: httpx.Client) -> None:
    _, _, body = tokens_for(provider, http)
    public_id, _ = provider.client(public=True)
    response = httpx.post(f"{provider.url}/introspect", data={"token": body["access_token"], "client_id": public_id})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
