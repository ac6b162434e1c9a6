"""Discovery 1.0 and JWKS."""

from __future__ import annotations

import httpx

from tests.functional.conftest import Provider


def test_metadata_lists_what_clients_need(provider: Provider, http: httpx.Client) -> None:
    response = http.get("/.well-known/openid-configuration")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    meta = response.json()
    assert meta["issuer"] == provider.url
    for name in ("authorization", "token", "userinfo", "introspection", "revocation", "end_session"):
        assert meta[f"{name}_endpoint"].startswith(provider.url)
    assert meta["jwks_uri"].startswith(provider.url)
    assert "code" in meta["response_types_supported"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "openid" in meta["scopes_supported"]
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(meta["token_endpoint_auth_methods_supported"])
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(meta["grant_types_supported"])
    assert "sub" in meta["claims_supported"]
    assert meta["authorization_response_iss_parameter_supported"] is True


def test_jwks_has_unique_kids_and_only_public_parts(http: httpx.Client) -> None:
    keys = http.get("/jwks").json()["keys"]
    assert keys
    kids = [k["kid"] for k in keys]
    assert len(set(kids)) == len(kids)
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        assert key["use"] == "sig" and key["alg"] in {"RS256", "ES256"}


def test_metadata_has_no_empty_lists(http: httpx.Client) -> None:
    """Strict metadata validators refuse an empty array: a feature not offered is left out instead."""
    meta = http.get("/.well-known/openid-configuration").json()
    assert [name for name, value in meta.items() if value == []] == []
    assert "userinfo_signing_alg_values_supported" not in meta  # UserInfo answers plain JSON only
