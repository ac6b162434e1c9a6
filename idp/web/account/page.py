"""The account page itself: who is signed in (through Canary's own first-party client, as the dashboard
does), what each section shows, and the answer every section's form gets (back to the page with a notice)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from idp.accounts import sessions as login_sessions
from idp.accounts.models import LoginSession, User
from idp.oauth.user_grants import ACCOUNT_CLIENT_ID, applications
from idp.opaque import digest, new_secret
from idp.web import forms
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE

NOTICES = {
    "name": "Your name was changed.",
    "email": "We sent a link to your new address; your address changes when you follow it.",
    "password": "Your password was changed; your other sessions were signed out.",
    "session": "That session was signed out.",
    "application": "The application's access was revoked.",
}


@dataclass
class Signed:
    """The signed-in person and their session (``id_hash``), read in the request's database session."""

    user: User
    session: LoginSession


def signed_in(c: Canary, db: Session, request: Request) -> Signed | None:
    session = login_sessions.load_session(db, request.cookies.get(SESSION_COOKIE), c.clock.now())
    user = None if session is None else db.get(User, session.user_id)
    return None if session is None or user is None else Signed(user, session)


def sign_in(c: Canary) -> Response:
    params = {"client_id": ACCOUNT_CLIENT_ID, "redirect_uri": f"{c.settings.issuer}/account/callback",
              "response_type": "code", "scope": "openid", "state": new_secret(12),
              # PKCE is required of public clients; the page relies on the session cookie, not the code.
              "code_challenge": new_secret(32), "code_challenge_method": "S256"}
    return RedirectResponse(f"/authorize?{urlencode(params)}", status_code=302, headers=NO_STORE)


def _view(c: Canary, cookie: str | None) -> dict[str, Any] | None:
    now = c.clock.now()
    with c.factory() as db:
        session = login_sessions.load_session(db, cookie, now)
        user = None if session is None else db.get(User, session.user_id)
        if session is None or user is None:
            return None
        live = db.scalars(select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None),
                                                     LoginSession.expires_at > now)
                          .order_by(LoginSession.created_at.desc())).all()
        return {
            "user": {"name": user.name, "email": user.email, "email_verified": user.email_verified},
            "sessions": [{"sid": s.sid, "created_at": s.created_at, "auth_time": s.auth_time,
                          "current": s.id_hash == session.id_hash} for s in live],
            "applications": applications(db, user.id),
        }


async def show(request: Request, *, error: str = "", status: int = 200) -> Response:
    c = canary(request)
    values = await c.run(_view, c, request.cookies.get(SESSION_COOKIE))
    if values is None:
        return sign_in(c)
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    return forms.page(request, "account/page.html", {**values, "notice": notice, "error": error}, status=status)


async def account(request: Request) -> Response:
    return await show(request)


async def callback(request: Request) -> Response:
    """Where the sign-in lands; the session cookie set by the login form is what the page trusts."""
    return RedirectResponse("/account", status_code=302, headers=NO_STORE)


def done(what: str) -> Response:
    return RedirectResponse(f"/account?done={what}", status_code=303, headers=NO_STORE)


def session_hash(request: Request) -> str:
    return digest(request.cookies.get(SESSION_COOKIE, ""))


routes = [
    Route("/account", account, methods=["GET"], name="account"),
    Route("/account/callback", callback, methods=["GET"]),
]
