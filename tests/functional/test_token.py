"""The token endpoint: client authentication, code reuse, refresh rotation, client_credentials, ID tokens."""

from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import quote_plus

import httpx
from sqlalchemy import update

from idp.accounts.models import User
from idp.db import transaction, utcnow
from idp.oauth.models import RefreshToken
from idp.opaque import digest
from tests.functional.conftest import Provider
from tests.support.browser import REDIRECT, authorize_params, pkce_pair, sign_in
from tests.support.tokens import decode, exchange, introspect, tokens_for


def test_token_response_shape_and_headers(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    back = sign_in(http, authorize_params(client_id), user.email)
    response = exchange(provider, client_id, secret, back["code"])
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)
    assert {"access_token", "id_token", "refresh_token", "scope"} <= set(body)


def test_id_token_claims(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    back = sign_in(http, authorize_params(client_id, nonce="abc123"), user.email)
    body = exchange(provider, client_id, secret, back["code"]).json()
    token = decode(provider, body["id_token"])
    assert token.header["alg"] == "RS256" and token.header["kid"]
    claims = token.claims
    assert claims["iss"] == provider.url and claims["sub"] == user.id and claims["aud"] == client_id
    assert claims["azp"] == client_id and claims["nonce"] == "abc123"
    assert {"exp", "iat", "auth_time", "at_hash"} <= set(claims)
    digest = __import__("hashlib").sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_es256_client_gets_es256_id_tokens(provider: Provider, http: httpx.Client) -> None:
    from idp.db import transaction
    from idp.oauth.keys import add_key

    with transaction(provider.context.factory) as db:
        add_key(db, "ES256")
    provider.context.keys.reload()
    _, _, body = tokens_for(provider, http, id_token_alg="ES256")
    assert decode(provider, body["id_token"]).header["alg"] == "ES256"


def test_access_token_is_rfc9068_jwt(provider: Provider, http: httpx.Client) -> None:
    client_id, _, body = tokens_for(provider, http)
    token = decode(provider, body["access_token"])
    assert token.header["typ"] == "at+jwt"
    claims = token.claims
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} <= set(claims)
    assert claims["client_id"] == client_id and claims["sub"] == body["user"]


def test_client_secret_basic_is_form_urlencoded_before_base64(provider: Provider) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    raw = f"{quote_plus(client_id)}:{quote_plus(secret or '')}".encode()
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": "Basic " + base64.b64encode(raw).decode()})
    assert response.status_code == 200, response.text


def test_client_secret_post(provider: Provider) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials",
                                                         "client_id": client_id, "client_secret": secret})
    assert response.status_code == 200


def test_wrong_client_auth_is_401_invalid_client_with_challenge(provider: Provider) -> None:
    client_id, _ = provider.client(grant_types=["client_credentials"], scope="events:write")
    for auth in [(client_id, "wrong"), ("unknown-client", "x")]:
        response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"}, auth=auth)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "www-authenticate" in response.headers
    post = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                     "client_secret": "wrong"})
    assert post.status_code == 401 and post.json()["error"] == "invalid_client"


def test_confidential_client_cannot_skip_authentication(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client(first_party=True)
    verifier, challenge = pkce_pair()
    back = sign_in(http, authorize_params(client_id, challenge), user.email)
    response = exchange(provider, client_id, None, back["code"], verifier)
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_code_reuse_is_invalid_grant_and_revokes_first_tokens(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    back = sign_in(http, authorize_params(client_id), user.email)
    first = exchange(provider, client_id, secret, back["code"]).json()
    assert httpx.get(f"{provider.url}/userinfo",
                     headers={"Authorization": f"Bearer {first['access_token']}"}).status_code == 200
    again = exchange(provider, client_id, secret, back["code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert httpx.get(f"{provider.url}/userinfo",
                     headers={"Authorization": f"Bearer {first['access_token']}"}).status_code == 401
    assert introspect(provider, first["access_token"], (client_id, secret or "")) == {"active": False}
    refresh = httpx.post(f"{provider.url}/token", data={"grant_type": "refresh_token",
                                                        "refresh_token": first["refresh_token"]},
                         auth=(client_id, secret or ""))
    assert refresh.status_code == 400


def test_code_is_bound_to_client_and_redirect_uri(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True, redirect_uris=[REDIRECT, "https://rp.example.com/b"])
    other_id, other_secret = provider.client(first_party=True)
    back = sign_in(http, authorize_params(client_id), user.email)
    assert exchange(provider, other_id, other_secret, back["code"]).json()["error"] == "invalid_grant"
    back = sign_in(http, authorize_params(client_id), user.email)
    wrong = exchange(provider, client_id, secret, back["code"], redirect_uri="https://rp.example.com/b")
    assert wrong.json()["error"] == "invalid_grant"


def test_refresh_rotation_and_family_revocation_on_reuse(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    first_id = decode(provider, body["id_token"]).claims

    def refresh(token: str) -> httpx.Response:
        return httpx.post(f"{provider.url}/token", data={"grant_type": "refresh_token", "refresh_token": token},
                          auth=auth)

    second = refresh(body["refresh_token"])
    assert second.status_code == 200 and second.headers["cache-control"] == "no-store"
    second_body = second.json()
    assert second_body["refresh_token"] != body["refresh_token"]
    refreshed_id = decode(provider, second_body["id_token"]).claims
    for claim in ("iss", "sub", "aud", "azp", "auth_time", "sid", "name", "email", "email_verified"):
        assert refreshed_id[claim] == first_id[claim]
    assert refreshed_id["iat"] >= first_id["iat"]

    reuse = refresh(body["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # the whole family is gone: the newer refresh token and its access token too
    assert refresh(second_body["refresh_token"]).json()["error"] == "invalid_grant"
    assert introspect(provider, second_body["access_token"], auth) == {"active": False}


def test_concurrent_refreshes_with_one_token_exactly_one_wins(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    start = threading.Barrier(2)

    def refresh() -> httpx.Response:
        start.wait(5)
        return httpx.post(f"{provider.url}/token", auth=auth,
                          data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})

    with ThreadPoolExecutor(2) as pool:
        responses = [f.result() for f in [pool.submit(refresh), pool.submit(refresh)]]
    assert sorted(r.status_code for r in responses) == [200, 400]
    winner = next(r.json() for r in responses if r.status_code == 200)
    loser = next(r.json() for r in responses if r.status_code == 400)
    assert loser["error"] == "invalid_grant"
    # The second use of the token, concurrent or not, is a reuse: the family is revoked, the winner's tokens too.
    again = httpx.post(f"{provider.url}/token", auth=auth,
                       data={"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert introspect(provider, winner["access_token"], auth) == {"active": False}


def test_expired_refresh_token_is_invalid_grant_and_revokes_nothing(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    auth = (client_id, secret or "")
    with transaction(provider.context.factory) as db:
        db.execute(update(RefreshToken).where(RefreshToken.token_hash == digest(body["refresh_token"]))
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
    response = httpx.post(f"{provider.url}/token", auth=auth,
                          data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert introspect(provider, body["access_token"], auth)["active"] is True


def test_refresh_for_a_disabled_account_is_refused(provider: Provider, http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(provider, http)
    with transaction(provider.context.factory) as db:  # disabled behind the provider's back: the grant stands
        db.execute(update(User).where(User.id == body["user"]).values(disabled=True))
    response = httpx.post(f"{provider.url}/token", auth=(client_id, secret or ""),
                          data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert "refresh_token" not in response.json()


def test_refresh_token_of_another_client_is_invalid_grant(provider: Provider, http: httpx.Client) -> None:
    _, _, body = tokens_for(provider, http)
    other_id, other_secret = provider.client()
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "refresh_token",
                                                         "refresh_token": body["refresh_token"]},
                          auth=(other_id, other_secret or ""))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_client_credentials_scopes_limited_no_refresh_no_id_token(provider: Provider) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    auth = (client_id, secret or "")
    refused = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials",
                                                        "scope": "events:write admin openid"}, auth=auth)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"  # never narrowed silently
    body = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials",
                                                     "scope": "events:write"}, auth=auth).json()
    assert body["scope"] == "events:write"
    assert "refresh_token" not in body and "id_token" not in body
    claims = decode(provider, body["access_token"]).claims
    assert claims["sub"] == client_id and claims["scope"] == "events:write"


def test_grant_type_not_registered_is_unauthorized_client(provider: Provider) -> None:
    client_id, secret = provider.client()  # authorization_code + refresh_token only
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret or ""))
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_unknown_grant_type(provider: Provider) -> None:
    client_id, secret = provider.client()
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "password", "username": "a"},
                          auth=(client_id, secret or ""))
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
