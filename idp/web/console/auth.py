"""Who may use the console: an administrator signed in to Canary itself.

The console is a first-party public client (``canary-dashboard``): an operator without a session is sent
through ``/authorize`` and the login form like any end user, and lands back on the page asked for. What the
console trusts afterwards is the login session cookie; only accounts with ``is_admin`` get in.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.accounts import sessions
from idp.accounts.models import User
from idp.oauth.clients import DASHBOARD_CLIENT_ID
from idp.opaque import new_secret
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE, error_page

HOME = "/console"
CALLBACK = "/dashboard/callback"  # the redirect URI registered for the console's client
SIGN_IN_COOKIE = "canary_console_signin"  # "<state> <page to return to>" while the operator signs in


@dataclass(frozen=True)
class Operator:
    id: str
    email: str
    name: str


def signed_in(c: Canary, cookie: str | None) -> Operator | bool | None:
    """The signed-in administrator; None when nobody is signed in; False when the account is no admin."""
    with c.factory() as db:
        session = sessions.load_session(db, cookie, c.clock.now())
        if session is None:
            return None
        user = db.get(User, session.user_id)
        if user is None or not user.is_admin:
            return False
        return Operator(user.id, user.email, user.name)


def safe_target(target: str | None) -> str:
    """A console path to return to, never another site."""
    if not target or not target.startswith(HOME) or "\\" in target or target.startswith("//"):
        return HOME
    return target


def sign_in(request: Request, c: Canary) -> Response:
    state = new_secret(12)
    params = {"client_id": DASHBOARD_CLIENT_ID, "redirect_uri": f"{c.settings.issuer}{CALLBACK}",
              "response_type": "code", "scope": "openid", "state": state,
              # PKCE is required of public clients; the console relies on the session cookie, not the code.
              "code_challenge": new_secret(32), "code_challenge_method": "S256"}
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/authorize?{urlencode(params)}", status_code=302, headers=NO_STORE)
    response.set_cookie(SIGN_IN_COOKIE, f"{state} {safe_target(target)}", max_age=900, httponly=True,
                        samesite="lax", secure=c.settings.secure_cookies, path="/")
    return response


async def operator(request: Request) -> Operator | Response:
    """The operator, or the response that sends the browser to sign in (or refuses a non-admin)."""
    c = canary(request)
    who = await c.run(signed_in, c, request.cookies.get(SESSION_COOKIE))
    if who is None:
        return sign_in(request, c)
    if who is False:
        return error_page(request, "access_denied", "this account may not open the console; sign out "
                          "(/logout) and sign in as an administrator (`canary users admin EMAIL`)", 403)
    assert isinstance(who, Operator)
    return who


async def callback(request: Request) -> Response:
    """Where the sign-in lands: back to the page the operator asked for when the state matches."""
    state, _, target = request.cookies.get(SIGN_IN_COOKIE, "").partition(" ")
    given = request.query_params.get("state", "")
    matches = bool(state) and hmac.compare_digest(state.encode(), given.encode())
    response = RedirectResponse(safe_target(target) if matches else HOME, status_code=302, headers=NO_STORE)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response
