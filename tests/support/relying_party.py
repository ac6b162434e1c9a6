"""A relying party built on a standard OIDC client library (Authlib's OAuth 2 client): an authorization URL
with PKCE and a nonce, and the code exchanged for tokens after a browser went through the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.support.browser import REDIRECT


@dataclass
class RelyingParty:
    issuer: str
    client_id: str
    secret: str | None
    verifier: str = field(default_factory=lambda: generate_token(48))

    def __post_init__(self) -> None:
        self.meta: dict[str, Any] = httpx.get(f"{self.issuer}/.well-known/openid-configuration").json()
        self.oauth = OAuth2Session(self.client_id, self.secret, scope="openid profile email offline_access",
                                   redirect_uri=REDIRECT, code_challenge_method="S256",
                                   token_endpoint_auth_method="client_secret_basic")

    def authorization_url(self) -> str:
        """A path with its query, for a browser on the provider."""
        url, _state = self.oauth.create_authorization_url(self.meta["authorization_endpoint"],
                                                          code_verifier=self.verifier, nonce=generate_token(16))
        return str(url)[len(self.issuer):]

    def tokens(self, code: str) -> dict[str, Any]:
        token: dict[str, Any] = self.oauth.fetch_token(self.meta["token_endpoint"], code=code,
                                                       code_verifier=self.verifier)
        return token

    def userinfo(self) -> dict[str, Any]:
        info: dict[str, Any] = self.oauth.get(self.meta["userinfo_endpoint"]).json()
        return info

    def refresh(self, refresh_token: str) -> httpx.Response:
        return httpx.post(self.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                              "refresh_token": refresh_token},
                          auth=(self.client_id, self.secret or ""))
