"""Bearer tokens at Canary's own resource endpoints (RFC 6750 §2.1 header, §2.2 form body)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from idp.oauth.errors import InsufficientScope, InvalidRequest, InvalidTokenError
from idp.oauth.tokens import InvalidToken
from idp.web.context import Canary


def header_token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth is None:
        return None
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidRequest("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def verify(c: Canary, token: str | None, scope: str | None) -> dict[str, Any]:
    if not token:
        raise InvalidTokenError("an access token is required")
    with c.factory() as db:
        try:
            claims = c.tokens.verify_access_token(db, token)
        except InvalidToken as exc:
            raise InvalidTokenError(f"the access token is invalid: {exc}") from exc
    if scope is not None and scope not in str(claims.get("scope", "")).split():
        raise InsufficientScope(f"the access token lacks the {scope!r} scope")
    return claims
