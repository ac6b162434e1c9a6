"""Clients registered for opaque access tokens, over real HTTP: what the holder sees, and that introspection,
userinfo, revocation and key rotation treat them as they treat JWT access tokens (event ingest: test_events)."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import JoseError

from idp.db import transaction
from idp.oauth.keys import rotate
from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, sign_in
from tests.support.tokens import decode, exchange, introspect


def opaque_cc_token(provider: Provider, **client: object) -> tuple[tuple[str, str], str]:
    client.setdefault("grant_types", ["client_credentials"])
    client.setdefault("scope", "events:write")
    client_id, secret = provider.client(access_token_format="opaque", **client)
    auth = (client_id, secret or "")
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert response.status_code == 200, response.text
    return auth, response.json()["access_token"]


def test_opaque_token_is_not_a_jwt_and_reveals_nothing(provider: Provider) -> None:
    auth, token = opaque_cc_token(provider)
    assert token.startswith("cat1~") and "." not in token
    with pytest.raises((JoseError, ValueError)):
        jwt.decode(token, httpx.get(f"{provider.url}/jwks").json()["keys"][0])
    sealed = token.split("~")[2]
    plain = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    assert auth[0].encode() not in plain and b"events:write" not in plain  # encrypted, not just encoded


def test_introspection_gives_the_claims_and_revocation_ends_them(provider: Provider) -> None:
    auth, token = opaque_cc_token(provider)
    seen = introspect(provider, token, auth)
    assert seen["active"] is True and seen["client_id"] == auth[0] and seen["sub"] == auth[0]
    assert seen["scope"] == "events:write" and seen["iss"] == provider.url and seen["exp"] > seen["iat"]
    assert httpx.post(f"{provider.url}/revoke", data={"token": token}, auth=auth).status_code == 200
    assert introspect(provider, token, auth) == {"active": False}


def test_altered_or_foreign_opaque_tokens_are_inactive(provider: Provider) -> None:
    auth, token = opaque_cc_token(provider)
    head, kid, sealed = token.split("~")
    flipped = sealed[:10] + ("A" if sealed[10] != "A" else "B") + sealed[11:]
    other_kid = next(k["kid"] for k in httpx.get(f"{provider.url}/jwks").json()["keys"] if k["kid"] != kid) \
        if len(httpx.get(f"{provider.url}/jwks").json()["keys"]) > 1 else kid[::-1]
    for bad in (f"{head}~{kid}~{flipped}", f"{head}~{other_kid}~{sealed}", f"{head}~{kid}~{sealed[:20]}",
                f"{head}~{kid}~!!!", f"cat9~{kid}~{sealed}", f"{head}~{kid}~{sealed}~x", token + "é"):
        assert introspect(provider, bad, auth) == {"active": False}, bad


def test_user_tokens_work_with_userinfo_and_at_hash(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True, access_token_format="opaque")
    back = sign_in(http, authorize_params(client_id, nonce="n-1"), user.email)
    body = exchange(provider, client_id, secret, back["code"]).json()
    access = body["access_token"]
    assert access.startswith("cat1~")
    info = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert info.status_code == 200 and info.json()["sub"] == user.id
    claims = decode(provider, body["id_token"]).claims  # the ID token stays a JWT
    digest = hashlib.sha256(access.encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    refreshed = httpx.post(f"{provider.url}/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": body["refresh_token"]},
                           auth=(client_id, secret or "")).json()
    assert refreshed["access_token"].startswith("cat1~")
    # Reusing the spent refresh token revokes the family: the opaque access tokens stop working too.
    httpx.post(f"{provider.url}/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
               auth=(client_id, secret or ""))
    for token in (access, refreshed["access_token"]):
        info = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert info.status_code == 401 and "invalid_token" in info.headers["www-authenticate"]


def test_tokens_sealed_before_a_key_rotation_stay_valid(provider: Provider) -> None:
    auth, before = opaque_cc_token(provider)
    with transaction(provider.context.factory) as db:
        rotate(db, "RS256", publish_delay=0)
    provider.context.keys.reload()
    auth_after, after = opaque_cc_token(provider)
    assert before.split("~")[1] != after.split("~")[1]  # sealed under the new key
    assert introspect(provider, before, auth)["active"] is True
    assert introspect(provider, after, auth_after)["active"] is True  # each client introspects its own


def test_jwt_stays_the_default_and_a_client_can_switch(provider: Provider) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    auth = (client_id, secret or "")
    first = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"}, auth=auth).json()
    assert decode(provider, first["access_token"]).header["typ"] == "at+jwt"
    from idp.oauth.clients import update_client
    from idp.oauth.models import Client

    with transaction(provider.context.factory) as db:
        update_client(db, db.get(Client, client_id), access_token_format="opaque")
    second = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"}, auth=auth).json()
    assert second["access_token"].startswith("cat1~")
    assert introspect(provider, first["access_token"], auth)["active"] is True  # issued tokens keep working

