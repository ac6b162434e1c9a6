"""UserInfo endpoint (OpenID Connect Core §5.3): GET or POST, token in the header or a form body.

Refusals follow RFC 6750 §3: no token at all (or credentials of another scheme) is the bare challenge, a malformed
request ``invalid_request``, a token that will not do ``invalid_token`` or ``insufficient_scope``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.accounts.models import User
from idp.oauth.claims import user_claims
from idp.oauth.errors import InvalidRequest, InvalidTokenError, OAuthError
from idp.oauth.server import read_form
from idp.web import bearer
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE, bearer_error


def _claims(c: Canary, token: str) -> dict[str, Any]:
    claims = c.access.verify(token, "openid")
    with c.factory() as db:
        user = db.get(User, claims["sub"])
        if user is None or user.disabled:
            raise InvalidTokenError("the access token's user no longer exists")
        return user_claims(user, claims.get("scope", ""))


async def userinfo(request: Request) -> Response:
    c = canary(request)
    try:
        token = bearer.bearer_credentials(request)
        if request.method == "POST":
            form = await read_form(request, c.settings.max_body_bytes, require_type=False)
            if "access_token" in form:
                if token is not None:
                    raise InvalidRequest("send the access token in one place only")
                token = form["access_token"]
        if token is None:
            return bearer.authentication_required()
        body = await c.run(_claims, c, token)
    except OAuthError as err:
        status = 400 if isinstance(err, InvalidRequest) else err.status
        return bearer_error(err.error, err.description, status)
    return JSONResponse(body, headers=NO_STORE)
