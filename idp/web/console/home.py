"""``/``: the console for a signed-in operator, a short page about this server for anyone else."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.web.authorize import SESSION_COOKIE
from idp.web.console.auth import HOME, Operator, signed_in
from idp.web.console.pages import TEMPLATES
from idp.web.context import canary
from idp.web.responses import NO_STORE


async def home(request: Request) -> Response:
    c = canary(request)
    who = await c.run(signed_in, c, request.cookies.get(SESSION_COOKIE))
    if isinstance(who, Operator):
        return RedirectResponse(HOME, status_code=302, headers=NO_STORE)
    response: Response = TEMPLATES.TemplateResponse(request, "console/home.html", {
        "issuer": c.settings.issuer, "signed_in": who is False}, headers=NO_STORE)
    return response

