"""token_type_hint at /introspect (RFC 7662 §2.1) and /revoke (RFC 7009 §2.1) is optional and only a hint: an
unknown or wrong one is ignored and every type of token is searched."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.conftest import Provider
from tests.support.tokens import tokens_for

HINTS = ["id_token", "bogus", "access_token", "refresh_token"]


@pytest.mark.parametrize("hint", HINTS)
def test_introspection_finds_the_token_whatever_the_hint(provider: Provider, http: httpx.Client, hint: str) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    for kind, token_type in (("access_token", "Bearer"), ("refresh_token", "refresh_token")):
        response = httpx.post(f"{provider.url}/introspect", data={"token": body[kind], "token_type_hint": hint},
                              auth=auth)
        assert response.status_code == 200, response.text
        assert response.json()["active"] is True and response.json()["token_type"] == token_type
    unknown = httpx.post(f"{provider.url}/introspect", data={"token": "unknown", "token_type_hint": hint}, auth=auth)
    assert unknown.status_code == 200 and unknown.json() == {"active": False}


@pytest.mark.parametrize("hint", ["bogus", "access_token"])
def test_revocation_with_an_unknown_or_wrong_hint_revokes(provider: Provider, http: httpx.Client, hint: str) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    response = httpx.post(f"{provider.url}/revoke", data={"token": body["refresh_token"], "token_type_hint": hint},
                          auth=auth)
    assert response.status_code == 200, response.text
    # Revoking the refresh token revoked its family: the access token too.
    seen = httpx.post(f"{provider.url}/introspect", data={"token": body["access_token"]}, auth=auth)
    assert seen.json() == {"active": False}
    assert httpx.post(f"{provider.url}/revoke", data={"token": "unknown", "token_type_hint": hint},
                      auth=auth).status_code == 200


def test_a_request_without_a_token_is_still_invalid_request(provider: Provider) -> None:
    client_id, secret = provider.client(first_party=True)
    for path in ("/introspect", "/revoke"):
        response = httpx.post(f"{provider.url}{path}", data={"token_type_hint": "bogus"},
                              auth=(client_id, secret or ""))
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
