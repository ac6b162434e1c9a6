"""The profile section: the name, and a change of e-mail address (the current password confirms it, counted
toward the lockout; the new address is verified before it replaces the old one, by ``idp.accounts.verification``).
An address that already has an account gets the answer a free one gets, so the page tells nobody which addresses
have accounts; that account's owner is told instead (``idp.accounts.notices.address_taken``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.accounts import notices
from idp.accounts.errors import AccountError, EmailTaken
from idp.accounts.users import normalize_email
from idp.accounts.verification import send_verification
from idp.web import forms
from idp.web.account import current_password
from idp.web.account.page import done, show, sign_in, signed_in
from idp.web.context import Canary, canary


def _rename(c: Canary, request: Request, name: str) -> str | None:
    """None: not signed in; "": done; else the problem."""
    with c.factory() as db:
        signed = signed_in(c, db, request)
        if signed is None:
            return None
        signed.user.name = name
        db.commit()
        return ""


async def rename(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    name = form.get("name", "").strip()
    if not name or len(name) > 200:
        return await show(request, error="Enter a name of at most 200 characters.", status=400)
    result = await c.run(_rename, c, request, name)
    return sign_in(c) if result is None else done("name")


def _change_email(c: Canary, request: Request, email: str, password: str) -> str | None:
    with c.factory() as db:
        signed = signed_in(c, db, request)
        if signed is None:
            return None
        wrong = current_password.problem(c, db, signed.user, password)
        if wrong:
            return wrong
        try:
            send_verification(c.accounts, db, signed.user, email)
        except EmailTaken:
            notices.address_taken(c.mail, db, normalize_email(email))
        except AccountError as err:
            return str(err)[:1].upper() + str(err)[1:] + "."
        db.commit()
        return ""


async def change_email(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    email, password = form.get("email", "").strip(), form.get("password", "")
    if not email or len(email) > 320 or not password or len(password) > 1024:
        return await show(request, error="Enter the new address and your password.", status=400)
    result = await c.run(_change_email, c, request, email, password)
    if result is None:
        return sign_in(c)
    return await show(request, error=result, status=400) if result else done("email")


routes = [
    Route("/account/name", rename, methods=["POST"]),
    Route("/account/email", change_email, methods=["POST"]),
]
