"""A relying party's and a resource server's calls: code exchange, ID token and JWT checks, introspection."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.accounts.models import User
from tests.support.browser import REDIRECT, authorize_params, sign_in


class ProviderLike(Protocol):
    """What these helpers need of the test provider (``tests.functional.conftest.Provider``)."""

    url: str

    def client(self, **kwargs: Any) -> tuple[str, str | None]: ...

    def user(self) -> User: ...


def exchange(provider: ProviderLike, client_id: str, secret: str | None, code: str, verifier: str | None = None,
             redirect_uri: str = REDIRECT) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    if secret is None:
        data["client_id"] = client_id
        return httpx.post(f"{provider.url}/token", data=data)
    return httpx.post(f"{provider.url}/token", data=data, auth=(client_id, secret))


def id_claims(provider: ProviderLike, id_token: str) -> dict:
    jwks = httpx.get(f"{provider.url}/jwks").json()
    return jwt.decode(id_token, KeySet.import_key_set(jwks)).claims


def tokens_for(provider: ProviderLike, http: httpx.Client, **client_kwargs: object) -> tuple[str, str | None, dict]:
    user = provider.user()
    client_id, secret = provider.client(first_party=True, **client_kwargs)
    back = sign_in(http, authorize_params(client_id), user.email)
    response = exchange(provider, client_id, secret, back["code"])
    assert response.status_code == 200, response.text
    return client_id, secret, response.json() | {"user": user.id}


def decode(provider: ProviderLike, token: str) -> jwt.Token:
    return jwt.decode(token, KeySet.import_key_set(httpx.get(f"{provider.url}/jwks").json()))


def introspect(provider: ProviderLike, token: str, auth: tuple[str, str]) -> dict:
    return httpx.post(f"{provider.url}/introspect", data={"token": token}, auth=auth).json()
