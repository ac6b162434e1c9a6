"""Bad input gets the protocol's error code and a description — never a 500."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from idp.app import create_app
from idp.settings import Settings
from tests.functional.conftest import Provider, ServerThread, free_port
from tests.support.browser import authorize_params


@pytest.mark.parametrize("body", [
    b"grant_type=client_credentials&grant_type=client_credentials",
    b"\xff\xfe\x00garbage",
    b"%",
    b"grant_type=",
    b"",
])
def test_malformed_token_requests(provider: Provider, body: bytes) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    response = httpx.post(f"{provider.url}/token", content=body, auth=(client_id, secret or ""),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type"}
    assert response.json().get("error_description")


def test_token_endpoint_wants_a_form(provider: Provider) -> None:
    response = httpx.post(f"{provider.url}/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_token_endpoint_get_is_405(provider: Provider) -> None:
    assert httpx.get(f"{provider.url}/token").status_code == 405


def test_oversized_bodies_are_413(provider: Provider) -> None:
    big = b"a=" + b"x" * (provider.settings.max_body_bytes + 10)
    for path in ("/token", "/introspect", "/revoke", "/authorize", "/login"):
        response = httpx.post(f"{provider.url}{path}", content=big,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code in (413, 400), (path, response.status_code)
        assert response.status_code != 500


def test_oversized_authorize_parameter(provider: Provider) -> None:
    client_id, _ = provider.client()
    params = authorize_params(client_id, state="s" * 5000)
    response = httpx.get(f"{provider.url}/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers


def test_repeated_authorize_parameter_is_an_error_page(provider: Provider) -> None:
    client_id, _ = provider.client()
    response = httpx.get(f"{provider.url}/authorize?client_id={client_id}&client_id={client_id}")
    assert response.status_code == 400


def test_login_form_without_fields(provider: Provider) -> None:
    for data in ({}, {"authorization_request": "client_id=x"}, {"csrf_token": "x"}):
        assert httpx.post(f"{provider.url}/login", data=data).status_code in (400, 403)


def test_unknown_client_at_every_endpoint(provider: Provider) -> None:
    auth = ("no-such-client", "secret")
    for path in ("/token", "/introspect", "/revoke"):
        response = httpx.post(f"{provider.url}{path}", data={"grant_type": "client_credentials", "token": "t"},
                              auth=auth)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_bad_bearer_header_forms(provider: Provider) -> None:
    for header in ("Basic abc", "Bearer", "Token abc", "bearer x.y"):
        response = httpx.get(f"{provider.url}/userinfo", headers={"Authorization": header})
        assert response.status_code in (400, 401)
        assert "www-authenticate" in response.headers


def _closed_port() -> int:
    port = free_port()
    with socket.socket() as s:  # make sure nothing listens there
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port


def test_database_down_is_503_json(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(issuer=f"http://127.0.0.1:{port}", data_dir=tmp_path,
                        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/none")
    server = ServerThread(create_app(settings), port)
    server.start()
    try:
        for method, path in (("POST", "/token"), ("GET", "/jwks"), ("GET", "/authorize?client_id=x"),
                             ("GET", "/userinfo")):
            kwargs = {"data": {"grant_type": "client_credentials"}, "auth": ("a", "b")} if method == "POST" else {}
            headers = {"Authorization": "Bearer a.b.c"} if path == "/userinfo" else {}
            response = httpx.request(method, f"{settings.issuer}{path}", headers=headers, timeout=30, **kwargs)
            if path == "/userinfo":
                assert response.status_code in (401, 503)
                continue
            assert response.status_code == 503, (path, response.status_code, response.text[:200])
            assert response.json()["error"] == "temporarily_unavailable"
            assert response.headers["retry-after"]
    finally:
        server.stop()


def test_a_csrf_token_that_is_not_ascii_is_refused_not_a_crash(provider: Provider) -> None:
    with httpx.Client(base_url=provider.url) as browser:
        browser.get("/authorize", params=authorize_params(provider.client(first_party=True)[0]))  # sets the cookie
        assert browser.cookies.get("canary_csrf")
        for body in (b'{"csrf_token": "\\ud800", "mode": "signin"}', '{"csrf_token": "\u00e9t\u00e9"}'.encode()):
            answer = browser.post("/login/passkey/options", content=body,
                                  headers={"Content-Type": "application/json"})
            assert answer.status_code == 403 and "CSRF" in answer.json()["error_description"], answer.text


@pytest.mark.parametrize("header", [b"Basic \xc3\xa9", b"Basic \xff\xfe", b"Basic " + "é:x".encode("latin-1")])
def test_a_basic_header_that_is_not_ascii_is_an_unknown_client(provider: Provider, header: bytes) -> None:
    for path in ("/token", "/introspect", "/revoke"):
        response = httpx.post(f"{provider.url}{path}", content=b"grant_type=client_credentials&token=x",
                              headers=[(b"Authorization", header),
                                       (b"Content-Type", b"application/x-www-form-urlencoded")])
        assert response.status_code in (400, 401), (path, response.text)
        assert response.json()["error"] == "invalid_client", path


@pytest.mark.parametrize("scope", ['"', "\\", "caf\u00e9", "ok \x7f"])
def test_a_refused_scope_with_characters_a_description_cannot_hold_is_invalid_scope(provider: Provider,
                                                                                    scope: str) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write", redirect_uris=[])
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": scope},
                          auth=(client_id, secret or ""))
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope", response.text
    assert "RFC 6749" in response.json()["error_description"]


@pytest.mark.parametrize("uri", ["https://[::1/cb", "https://example.com:99999/cb", "https://example.com:x/cb"])
def test_a_malformed_redirect_uri_is_refused_with_its_field(uri: str) -> None:
    from idp.oauth.clients import InvalidClientField, check_metadata

    with pytest.raises(InvalidClientField) as refused:
        check_metadata(grant_types=["authorization_code"], redirect_uris=["https://ok.example/cb", uri],
                       post_logout_redirect_uris=[], public=False)
    assert refused.value.field == "redirect_uris[1]" and "not a valid URI" in refused.value.description
