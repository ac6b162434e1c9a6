"""The code's redirect_uri at the token endpoint (RFC 6749 §4.1.3): required, and identical, when the authorization
request sent one; a code whose redirect_uri was taken from the client's only registered URI is exchanged without
it, and a redirect_uri sent anyway must still be that URI."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.conftest import Provider
from tests.support.browser import REDIRECT, authorize_params, sign_in


def code_for(http: httpx.Client, client_id: str, email: str, *, send_redirect_uri: bool) -> str:
    params = authorize_params(client_id)
    if not send_redirect_uri:
        del params["redirect_uri"]
    back = sign_in(http, params, email)
    assert "code" in back, back
    return back["code"]


def redeem(provider: Provider, auth: tuple[str, str], code: str, redirect_uri: str | None) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    return httpx.post(f"{provider.url}/token", data=data, auth=auth)


@pytest.mark.parametrize("at_token", [None, REDIRECT])
def test_a_defaulted_redirect_uri_need_not_be_sent(provider: Provider, http: httpx.Client,
                                                   at_token: str | None) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    code = code_for(http, client_id, user.email, send_redirect_uri=False)
    response = redeem(provider, (client_id, secret or ""), code, at_token)
    assert response.status_code == 200, response.text
    assert "access_token" in response.json()


def test_a_defaulted_redirect_uri_sent_at_the_token_endpoint_must_match(provider: Provider,
                                                                        http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    code = code_for(http, client_id, user.email, send_redirect_uri=False)
    response = redeem(provider, (client_id, secret or ""), code, "https://rp.example.com/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_sent_redirect_uri_must_be_sent_again(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    auth = (client_id, secret or "")
    missing = redeem(provider, auth, code_for(http, client_id, user.email, send_redirect_uri=True), None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    same = redeem(provider, auth, code_for(http, client_id, user.email, send_redirect_uri=True), REDIRECT)
    assert same.status_code == 200, same.text
