"""HEAD is answered wherever GET is (RFC 9110 §9.1): the GET's status and headers without a body, and
``Allow`` lists it beside GET."""

from __future__ import annotations

from tests.functional.admin.conftest import API, Admin


def _head(admin: Admin, path: str, token: str | None = "") -> tuple[int, dict[str, str], bytes]:
    headers = {} if token is None else {"Authorization": f"Bearer {admin.token if token == '' else token}"}
    response = admin.http.request("HEAD", API + path, headers=headers)
    return response.status_code, dict(response.headers), response.content


def test_head_answers_as_get_without_a_body(admin: Admin) -> None:
    account = admin.account()
    for path in ("/accounts", f"/accounts/{account['id']}", "/clients", "/organizations", "/alerts/rules"):
        got = admin.http.get(API + path, headers={"Authorization": f"Bearer {admin.token}"})
        status, headers, body = _head(admin, path)
        assert (status, body) == (200, b""), path
        assert got.status_code == 200
        for name in ("content-type", "cache-control"):
            assert headers[name] == got.headers[name], (path, name)
        assert int(headers["content-length"]) > 0


def test_head_refusals_match_get(admin: Admin) -> None:
    status, headers, body = _head(admin, "/accounts", token=None)
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="canary"' and body == b""
    status, headers, body = _head(admin, "/accounts/no-such-account")
    assert status == 404 and body == b""


def test_allow_lists_head_where_get_is(admin: Admin) -> None:
    assert admin.put("/accounts").headers["allow"] == "GET, HEAD, POST"
    only_post = admin.get("/clients/x/secret")
    assert only_post.status_code == 405 and "HEAD" not in only_post.headers["allow"]
    status, headers, _ = _head(admin, "/clients/x/secret")
    assert status == 405 and headers["allow"] == "POST"
