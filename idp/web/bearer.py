"""Bearer tokens at Canary's own resource endpoints (RFC 6750 §2.1 header, §2.2 form body).

Whether a token is usable is ``idp.oauth.resource_access``'s to say (``Canary.access``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idp.oauth.errors import InvalidRequest
from idp.web.responses import json_error

REALM = "canary"


def header_token(request: Request) -> str | None:
    """The header's token; None without an Authorization header; InvalidRequest for any other credentials."""
    auth = request.headers.get("authorization")
    if auth is None:
        return None
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidRequest("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def bearer_credentials(request: Request) -> str | None:
    """The header's Bearer token, or None when the request carries none: no Authorization header, or credentials
    of another scheme, which RFC 6750 §3.1 counts as a request without authentication information. "Bearer"
    without a token is malformed: InvalidRequest."""
    auth = request.headers.get("authorization")
    if auth is None or auth.partition(" ")[0].lower() != "bearer":
        return None
    return header_token(request)


def authentication_required() -> Response:
    """RFC 6750 §3.1: a request without authentication information gets the bare challenge, with no error code
    (the body says ``unauthorized``, as the resource-server kit's answers do)."""
    return json_error("unauthorized", "an access token is required: send 'Authorization: Bearer <token>'", 401,
                      {"WWW-Authenticate": f'Bearer realm="{REALM}"'})
