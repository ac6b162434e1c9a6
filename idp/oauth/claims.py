"""Standard claims by scope (OpenID Connect Core §5.4)."""

from __future__ import annotations

from typing import Any

from idp.accounts.models import User

SCOPE_CLAIMS = {
    "profile": ("name",),
    "email": ("email", "email_verified"),
}
CLAIMS_SUPPORTED = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "amr", "acr",
                    "name", "email", "email_verified"]


def user_claims(user: User, scope: str) -> dict[str, Any]:
    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": user.id}
    if "profile" in scopes:
        claims["name"] = user.name
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims
