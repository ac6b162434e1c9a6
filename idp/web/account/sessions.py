"""The sessions section: sign out one session (by its public ``sid``), or every session including this one."""

from __future__ import annotations

from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from idp.accounts.models import LoginSession
from idp.web import forms
from idp.web.account.page import done, show, sign_in, signed_in
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE


def _end(c: Canary, request: Request, sid: str) -> bool | None:
    """None: not signed in; False: no such session of this person."""
    with c.factory() as db:
        signed = signed_in(c, db, request)
        if signed is None:
            return None
        row = db.scalar(select(LoginSession).where(LoginSession.sid == sid, LoginSession.user_id == signed.user.id,
                                                   LoginSession.ended_at.is_(None)))
        if row is None:
            return False
        row.ended_at = c.clock.now()
        db.commit()
        return True


async def end(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    result = await c.run(_end, c, request, form.get("sid", "")[:64])
    if result is None:
        return sign_in(c)
    return done("session") if result else await show(request, error="No such session.", status=400)


def _end_all(c: Canary, request: Request) -> None:
    with c.factory() as db:
        signed = signed_in(c, db, request)
        if signed is not None:
            db.execute(update(LoginSession).where(LoginSession.user_id == signed.user.id,
                                                  LoginSession.ended_at.is_(None)).values(ended_at=c.clock.now()))
            db.commit()


async def end_all(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    await c.run(_end_all, c, request)
    return RedirectResponse("/account", status_code=303, headers=NO_STORE)


routes = [
    Route("/account/sessions/end", end, methods=["POST"]),
    Route("/account/sessions/end-all", end_all, methods=["POST"]),
]
