"""The old activity dashboard's addresses: each leads to its page in the operator console
(``idp.web.console``), so bookmarks and links keep working."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from idp.web.console.auth import CALLBACK, HOME, callback


async def overview(request: Request) -> Response:
    org = request.query_params.get("org")
    return RedirectResponse(HOME + (f"?{urlencode({'org': org})}" if org else ""), status_code=301)


async def account(request: Request) -> Response:
    return RedirectResponse(f"{HOME}/users/{request.path_params['account_id']}", status_code=301)


routes: list[BaseRoute] = [
    Route("/dashboard", overview, methods=["GET"]),
    # The redirect URI registered for the console's client (``idp.oauth.clients.ensure_dashboard_client``).
    Route(CALLBACK, callback, methods=["GET"]),
    Route("/dashboard/accounts/{account_id}", account, methods=["GET"]),
]
