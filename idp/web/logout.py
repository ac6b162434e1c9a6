"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

The session ends at once only when the ``id_token_hint`` is one of Canary's ID tokens, unexpired, and its
subject is the user of this browser's session. Otherwise (no hint, someone else's token, an expired one, no
session) the user confirms with a CSRF-protected form, so a third-party page cannot sign people out.
``post_logout_redirect_uri`` must be registered exactly for the client named by the hint (an expired hint still
names it) or by ``client_id``; otherwise no redirect happens.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.accounts import sessions
from idp.oauth.authorize import redirect_with
from idp.oauth.errors import InvalidRequest
from idp.oauth.models import Client
from idp.oauth.server import parse_form, read_body
from idp.oauth.tokens import InvalidToken, audiences, decode_id_token_hint
from idp.web import csrf
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE, error_page

PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint")


@dataclass
class Plan:
    error: str = ""
    redirect: str | None = None
    confirmed: bool = False


def _hint_matches_session(c: Canary, claims: dict[str, Any], cookie: str | None) -> bool:
    now = c.clock.now()
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now.timestamp():
        return False
    with c.factory() as db:
        session = sessions.load_session(db, cookie, now)
    return session is not None and hmac.compare_digest(session.user_id, str(claims.get("sub", "")))


def plan(c: Canary, params: dict[str, str], cookie: str | None = None) -> Plan:
    hint_claims = None
    if params.get("id_token_hint"):
        try:
            hint_claims = decode_id_token_hint(c.keys, c.settings.issuer, params["id_token_hint"])
        except InvalidToken as exc:
            return Plan(error=str(exc))
    client_id = params.get("client_id")
    if hint_claims is not None:
        auds = audiences(hint_claims)
        if client_id and client_id not in auds:
            return Plan(error="client_id does not match the id_token_hint")
        client_id = client_id or (auds[0] if auds else None)
    redirect = None
    wanted = params.get("post_logout_redirect_uri")
    if wanted:
        with c.factory() as db:
            client = db.get(Client, client_id) if client_id else None
        if client is None:
            return Plan(error="post_logout_redirect_uri needs an id_token_hint or client_id")
        if wanted not in client.post_logout_redirect_uris:
            return Plan(error="post_logout_redirect_uri is not registered for this client")
        redirect = redirect_with(wanted, {"state": params.get("state")})
    return Plan(redirect=redirect,
                confirmed=hint_claims is not None and _hint_matches_session(c, hint_claims, cookie))


def end(c: Canary, cookie: str | None, client_id: str) -> None:
    with c.factory() as db:
        now = c.clock.now()
        session = sessions.load_session(db, cookie, now)
        if session is None:
            return
        sessions.end_session(db, session, now)
        db.commit()
        c.activity.signout(db, session.user_id, client_id)


async def logout(request: Request) -> Response:
    c = canary(request)
    try:
        if request.method == "POST":
            form = parse_form(await read_body(request, c.settings.max_body_bytes))
        else:
            form = parse_form(request.url.query.encode())
    except InvalidRequest as exc:
        return error_page(request, "invalid_request", exc.description)
    params = {k: v for k, v in form.items() if k in PARAMS}
    result = await c.run(plan, c, params, request.cookies.get(SESSION_COOKIE))
    if result.error:
        return error_page(request, "invalid_request", result.error)
    confirmed = result.confirmed or (request.method == "POST" and form.get("confirm") == "yes"
                                     and csrf.valid(request, form))
    response: Response
    if not confirmed:
        token = csrf.token_for(request)
        response = c.templates.TemplateResponse(
            request, "logout.html", {"done": False, "csrf_token": token, "params": params,
                                     "action": request.url_for("logout").path}, headers=NO_STORE)
        csrf.set_cookie(response, token, c.settings.secure_cookies)
        return response
    await c.run(end, c, request.cookies.get(SESSION_COOKIE), params.get("client_id", ""))
    response = (RedirectResponse(result.redirect, status_code=303 if request.method == "POST" else 302,
                                 headers=NO_STORE) if result.redirect
                else c.templates.TemplateResponse(request, "logout.html", {"done": True}, headers=NO_STORE))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=c.settings.secure_cookies)
    return response
