"""A standard relying-party library (Authlib's OAuth 2 client) against Canary over real HTTP:
discovery → code + PKCE → ID token validation (JWKS signature, nonce, at_hash) → userinfo → refresh →
introspection → revocation → client_credentials."""

from __future__ import annotations

from typing import Any

import httpx
from authlib.integrations.requests_client import OAuth2Session as OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.functional.conftest import Provider
from tests.support.browser import REDIRECT, consent, login, redirect_params


def _validate_id_token(id_token: str, jwks: dict[str, Any], issuer: str, client_id: str, nonce: str,
                       access_token: str) -> dict[str, Any]:
    decoded = jwt.decode(id_token, KeySet.import_key_set(jwks))
    claims = CodeIDToken(decoded.claims, decoded.header, params={"nonce": nonce, "access_token": access_token})
    claims.validate(leeway=5)
    assert claims["iss"] == issuer and claims["aud"] == client_id
    return decoded.claims


def test_full_flow_with_standard_client(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(name="rp", first_party=False)
    meta = httpx.get(f"{provider.url}/.well-known/openid-configuration").json()
    assert meta["issuer"] == provider.url
    jwks = httpx.get(meta["jwks_uri"]).json()

    rp = OAuth2Client(client_id, secret, scope="openid profile email offline_access", redirect_uri=REDIRECT,
                      code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
    from authlib.common.security import generate_token

    code_verifier = generate_token(48)
    url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=code_verifier,
                                             nonce="n-0S6_WzA2Mj")
    page = http.get(url)
    page = login(http, page, user.email)
    back = redirect_params(consent(http, page))
    assert back["state"] == state and back["iss"] == provider.url

    token = rp.fetch_token(meta["token_endpoint"], code=back["code"], code_verifier=code_verifier)
    claims = _validate_id_token(token["id_token"], jwks, provider.url, client_id, "n-0S6_WzA2Mj",
                                token["access_token"])
    assert claims["sub"] == user.id

    info = rp.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == user.id and info["email"] == user.email

    refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    new_claims = jwt.decode(refreshed["id_token"], KeySet.import_key_set(jwks)).claims
    for name in ("iss", "sub", "aud", "azp", "auth_time"):
        assert new_claims[name] == claims[name]

    auth = (client_id, secret or "")
    active = httpx.post(meta["introspection_endpoint"], data={"token": refreshed["access_token"]}, auth=auth).json()
    assert active["active"] is True and active["sub"] == user.id

    assert httpx.post(meta["revocation_endpoint"], data={"token": refreshed["refresh_token"]},
                      auth=auth).status_code == 200
    gone = httpx.post(meta["introspection_endpoint"], data={"token": refreshed["access_token"]}, auth=auth).json()
    assert gone == {"active": False}

    service_id, service_secret = provider.client(name="service", grant_types=["client_credentials"],
                                                 scope="events:write")
    service = OAuth2Client(service_id, service_secret, scope="events:write")
    cc = service.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert "refresh_token" not in cc and "id_token" not in cc
    assert jwt.decode(cc["access_token"], KeySet.import_key_set(jwks)).header["typ"] == "at+jwt"
