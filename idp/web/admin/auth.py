"""Who may call the admin API: an admin client, with its own client-credentials token (RFC 6750 §3).

The token must be valid and carry the ``admin`` scope, and its client must still exist and still be an admin
client — so demoting or deleting the client cuts off tokens already issued. A user's token is never enough,
even from an admin client: the admin API acts for the owner, not for whoever signed in.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idp.oauth.errors import InsufficientScope, InvalidRequest, InvalidTokenError, OAuthError
from idp.oauth.models import Client
from idp.oauth.resource_access import Unusable
from idp.web import bearer
from idp.web.context import Canary, canary
from idp.web.responses import bearer_error

SCOPE = "admin"


class Refused(Exception):
    """The request is not authorised; ``response`` is the RFC 6750 challenge to send."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def verify_admin(c: Canary, token: str | None) -> dict[str, Any]:
    """The token's claims, or InvalidTokenError / InsufficientScope."""
    claims = c.access.verify(token, SCOPE)  # a usable token: its client still exists
    if "gid" in claims or claims.get("sub") != claims.get("client_id"):
        raise InsufficientScope("the admin API takes an admin client's own client_credentials token")
    with c.factory() as db:
        client = db.get(Client, claims["client_id"])
        if client is None:  # deleted since
            raise InvalidTokenError(Unusable.CLIENT_GONE.value)
        if not client.admin:
            raise InsufficientScope("the token's client is not an admin client")
    return claims


async def authenticate(request: Request) -> dict[str, Any]:
    """The admin token's claims; ``Refused`` with the challenge (400, 401 or 403) when it will not do.

    A request without a Bearer token (no Authorization header, or another scheme) gets the bare challenge of
    RFC 6750 §3.1, with no error code; "Bearer" without a token is invalid_request; a token that will not do is
    invalid_token or insufficient_scope. Every admin operation passes through here (``idp.web.admin.routing``);
    so can any other admin endpoint.
    """
    c = canary(request)
    try:
        token = bearer.bearer_credentials(request)
        if token is None:
            raise Refused(bearer.authentication_required())
        return await c.run(verify_admin, c, token)
    except InvalidRequest as err:
        raise Refused(bearer_error("invalid_request", err.description, 400)) from err
    except InsufficientScope as err:
        raise Refused(bearer_error(err.error, err.description, 403, scope=SCOPE)) from err
    except OAuthError as err:
        raise Refused(bearer_error(err.error, err.description, err.status)) from err

