"""/token, /introspect and /revoke: handed to Authlib through ``idp.oauth.server``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idp.web.context import canary


async def token(request: Request) -> Response:
    return await canary(request).server.respond(request, None)


async def introspect(request: Request) -> Response:
    return await canary(request).server.respond(request, "introspection")


async def revoke(request: Request) -> Response:
    return await canary(request).server.respond(request, "revocation")
