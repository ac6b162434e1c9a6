"""The refresh grant (RFC 6749 §6) over HTTP: a narrower scope narrows the tokens of that response only, and a
refresh token presented by a client it was not issued to is refused without touching the owner's tokens."""

from __future__ import annotations

import httpx

from tests.functional.conftest import Provider
from tests.support.tokens import decode, introspect, tokens_for

FULL = "openid profile email offline_access"


def refresh(provider: Provider, auth: tuple[str, str], token: str, scope: str | None = None) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    if scope is not None:
        data["scope"] = scope
    return httpx.post(f"{provider.url}/token", data=data, auth=auth)


def test_a_narrower_scope_keeps_the_refresh_tokens_scope(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    assert set(body["scope"].split()) == set(FULL.split())

    narrowed = refresh(provider, auth, body["refresh_token"], "openid email")
    assert narrowed.status_code == 200, narrowed.text
    narrow = narrowed.json()
    assert narrow["scope"] == "openid email"
    assert decode(provider, narrow["access_token"]).claims["scope"] == "openid email"
    assert "name" not in decode(provider, narrow["id_token"]).claims
    # RFC 6749 §6: the new refresh token's scope is identical to the presented one's.
    assert set(introspect(provider, narrow["refresh_token"], auth)["scope"].split()) == set(FULL.split())

    widened = refresh(provider, auth, narrow["refresh_token"], "openid profile")  # within the original grant
    assert widened.status_code == 200, widened.text
    assert widened.json()["scope"] == "openid profile"

    full = refresh(provider, auth, widened.json()["refresh_token"])
    assert full.status_code == 200, full.text
    assert set(full.json()["scope"].split()) == set(FULL.split())
    assert set(decode(provider, full.json()["access_token"]).claims["scope"].split()) == set(FULL.split())

    beyond = refresh(provider, auth, full.json()["refresh_token"], "openid events:write")
    assert beyond.status_code == 400 and beyond.json()["error"] == "invalid_scope"


def test_another_clients_spent_refresh_token_revokes_nothing(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    owner = (client_id, secret or "")
    rotated = refresh(provider, owner, body["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    current = rotated.json()

    other_id, other_secret = provider.client(first_party=True)
    stolen = refresh(provider, (other_id, other_secret or ""), body["refresh_token"])  # spent, and not theirs
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert "already used" not in stolen.json()["error_description"]

    userinfo = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {current['access_token']}"})
    assert userinfo.status_code == 200
    assert introspect(provider, current["refresh_token"], owner)["active"] is True
    assert refresh(provider, owner, current["refresh_token"]).status_code == 200

    # The owner presenting its own spent token is still a replay: the family is revoked.
    replay = refresh(provider, owner, body["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "already used" in replay.json()["error_description"]
