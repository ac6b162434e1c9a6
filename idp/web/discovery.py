"""OpenID Provider metadata (Discovery 1.0 §3, RFC 8414) and the JWKS."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.accounts.factors.levels import SUPPORTED as ACR_VALUES
from idp.oauth.claims import CLAIMS_SUPPORTED
from idp.web.context import canary


def metadata(issuer: str, algs: list[str]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": ["openid", "profile", "email", "offline_access", "events:write", "admin"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "acr_values_supported": list(ACR_VALUES),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        # No userinfo_signing_alg_values_supported: UserInfo answers plain JSON only, and an empty list trips
        # strict metadata validators.
    }


async def openid_configuration(request: Request) -> Response:
    c = canary(request)
    algs = await c.run(c.keys.algorithms)
    return JSONResponse(metadata(c.settings.issuer, algs), headers={"Cache-Control": "public, max-age=300"})


async def jwks(request: Request) -> Response:
    c = canary(request)
    body = await c.run(c.keys.jwks)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
