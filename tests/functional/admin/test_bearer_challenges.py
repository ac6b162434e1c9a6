"""The admin API's RFC 6750 §3 answers, as UserInfo's: no Bearer token (no Authorization header, or another
scheme) is 401 with the bare challenge and no error code; "Bearer" alone is invalid_request; a bad token is
invalid_token."""

from __future__ import annotations

import pytest

from tests.functional.admin.conftest import Admin

BARE = 'Bearer realm="canary"'


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwdw==", "Token abc", "Negotiate"])
@pytest.mark.parametrize(("method", "path"), [("GET", "/accounts"), ("POST", "/organizations"),
                                              ("DELETE", "/clients/x")])
def test_no_bearer_token_gets_the_bare_challenge(admin: Admin, authorization: str | None, method: str,
                                                 path: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = admin.request(method, path, token=None, headers=headers, json={})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == BARE
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["error"] not in {"invalid_token", "invalid_request", "insufficient_scope"}


def test_an_empty_bearer_header_and_a_bad_token(admin: Admin) -> None:
    empty = admin.get("/accounts", token=None, headers={"Authorization": "Bearer"})
    assert empty.status_code == 400 and empty.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in empty.headers["WWW-Authenticate"]
    for token in ("x.y", "garbage"):
        bad = admin.get("/accounts", token=token)
        assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
