"""The password section: a new password, the current one required and counted toward the lockout
(``current_password``), then set by ``idp.accounts.recovery``; this session stays, every other one ends and every
grant is revoked; a mail tells the owner."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.accounts.errors import AccountError
from idp.accounts.recovery import change_password
from idp.web import forms
from idp.web.account import current_password
from idp.web.account.page import done, session_hash, show, sign_in, signed_in
from idp.web.context import Canary, canary


def _change(c: Canary, request: Request, current: str, new: str) -> str | None:
    with c.factory() as db:
        signed = signed_in(c, db, request)
        if signed is None:
            return None
        wrong = current_password.problem(c, db, signed.user, current, "The current password is wrong.")
        if wrong:
            return wrong
        try:
            change_password(c.accounts, db, signed.user, current, new, keep_session=session_hash(request))
        except AccountError as err:
            return str(err)[:1].upper() + str(err)[1:] + "."
        db.commit()
        return ""


async def change(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    current, new = form.get("current", ""), form.get("password", "")
    if not current or not new or len(current) > 1024 or len(new) > 1024:
        return await show(request, error="Enter your current password and a new one.", status=400)
    if new != form.get("repeat", ""):
        return await show(request, error="The two new passwords differ.", status=400)
    result = await c.run(_change, c, request, current, new)
    if result is None:
        return sign_in(c)
    return await show(request, error=result, status=400) if result else done("password")


routes = [Route("/account/password", change, methods=["POST"])]
