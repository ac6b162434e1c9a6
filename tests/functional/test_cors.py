"""Cross-origin calls from a single-page application: discovery and JWKS for any origin; /token, /userinfo and
/revoke for the web origins of registered redirect URIs, seen by every process within the cache's lifetime."""

from __future__ import annotations

import secrets

import httpx

from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, pkce_pair, sign_in


def _preflight(http: httpx.Client, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return http.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                       "Access-Control-Request-Headers": "authorization, content-type"})


def test_discovery_and_keys_may_be_read_from_any_origin(http: httpx.Client) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks"):
        response = http.get(path, headers={"Origin": "https://anywhere.example"})
        assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*", path
        preflight = _preflight(http, path, "https://anywhere.example", "GET")
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in preflight.headers
    assert "access-control-allow-origin" not in http.get("/jwks").headers  # no Origin: not a CORS request


def test_a_single_page_application_signs_in_and_calls_userinfo_from_its_origin(
        clocked: Provider, clocked_http: httpx.Client) -> None:
    origin = f"https://spa-{secrets.token_hex(4)}.example:8443"
    stranger = f"https://other-{secrets.token_hex(4)}.example:8443"
    redirect = f"{origin}/callback"
    before = _preflight(clocked_http, "/token", origin)
    assert before.status_code == 403 and "access-control-allow-origin" not in before.headers

    client_id, _ = clocked.client(public=True, redirect_uris=[redirect])
    assert _preflight(clocked_http, "/token", origin).status_code == 403  # the origins read a moment ago still hold
    clocked.clock.advance(clocked.settings.cache_seconds + 1)
    preflight = _preflight(clocked_http, "/token", origin)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert preflight.headers["access-control-allow-methods"] == "POST"
    assert set(preflight.headers["access-control-allow-headers"].split(", ")) == {"authorization", "content-type"}
    assert preflight.headers["vary"] == "Origin" and "access-control-allow-credentials" not in preflight.headers
    refused = _preflight(clocked_http, "/token", stranger)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers

    verifier, challenge = pkce_pair()
    user = clocked.user()
    with httpx.Client(base_url=clocked.url) as browser:
        back = sign_in(browser, authorize_params(client_id, challenge, redirect_uri=redirect), user.email)
    tokens = clocked_http.post("/token", headers={"Origin": origin}, data={
        "grant_type": "authorization_code", "code": back["code"], "redirect_uri": redirect, "client_id": client_id,
        "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["access-control-allow-origin"] == origin and tokens.headers["vary"] == "Origin"
    access = tokens.json()["access_token"]

    info = clocked_http.get("/userinfo", headers={"Origin": origin, "Authorization": f"Bearer {access}"})
    assert info.status_code == 200 and info.json()["sub"] == user.id
    assert info.headers["access-control-allow-origin"] == origin
    bad = clocked_http.get("/userinfo", headers={"Origin": origin, "Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["access-control-allow-origin"] == origin
    assert "www-authenticate" in bad.headers["access-control-expose-headers"]  # the app may read the error
    elsewhere = clocked_http.get("/userinfo", headers={"Origin": stranger, "Authorization": f"Bearer {access}"})
    assert "access-control-allow-origin" not in elsewhere.headers  # answered, but its page cannot read it

    revoked = clocked_http.post("/revoke", headers={"Origin": origin},
                                data={"token": tokens.json()["refresh_token"], "client_id": client_id})
    assert revoked.status_code == 200 and revoked.headers["access-control-allow-origin"] == origin


def test_a_disabled_clients_origin_is_no_longer_allowed(clocked: Provider, clocked_http: httpx.Client) -> None:
    from idp.db import transaction
    from idp.oauth.models import Client

    origin = f"https://app-{secrets.token_hex(4)}.example"
    client_id, _ = clocked.client(redirect_uris=[f"{origin}/cb", "com.example.app:/oauth"])
    assert _preflight(clocked_http, "/userinfo", origin, "GET").headers["access-control-allow-methods"] == "GET, POST"
    with transaction(clocked.context.factory) as db:
        client = db.get(Client, client_id)
        assert client is not None
        client.disabled = True
    clocked.clock.advance(clocked.settings.cache_seconds + 1)
    assert _preflight(clocked_http, "/userinfo", origin, "GET").status_code == 403
