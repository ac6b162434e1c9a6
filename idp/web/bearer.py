"""Bearer tokens at Canary's own resource endpoints (RFC 6750 §2.1 header, §2.2 form body).

Whether a token is usable is ``idp.oauth.resource_access``'s to say (``Canary.access``).
"""

from __future__ import annotations

from starlette.requests import Request

from idp.oauth.errors import InvalidRequest


def header_token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth is None:
        return None
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidRequest("the Authorization header must be 'Bearer <token>'")
    return value.strip()
