"""UserInfo's RFC 6750 §3 answers: a request without a token, or with credentials of another scheme, lacks
authentication information (§3.1): 401 with a bare Bearer challenge and no error code; a malformed Bearer header is
invalid_request; a bad token is invalid_token."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.conftest import Provider

BARE = 'Bearer realm="canary"'


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("authorization", [None, "Basic abc", "Basic dXNlcjpwdw==", "Token abc", "Negotiate"])
def test_no_bearer_credentials_get_a_challenge_without_an_error_code(provider: Provider, method: str,
                                                                     authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = httpx.request(method, f"{provider.url}/userinfo", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == BARE
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["error"] not in {"invalid_token", "invalid_request", "insufficient_scope"}


def test_an_empty_bearer_header_is_invalid_request(provider: Provider) -> None:
    response = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": "Bearer"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_a_bad_token_is_still_invalid_token(provider: Provider) -> None:
    for request in ({"headers": {"Authorization": "Bearer x.y"}}, {"data": {"access_token": "x.y"}}):
        response = httpx.post(f"{provider.url}/userinfo", **request)  # type: ignore[arg-type]
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
