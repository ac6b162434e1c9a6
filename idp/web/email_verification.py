"""``/email/verify``: the mailed link. The GET shows a form (a mail scanner that fetches the link does not spend
it); the POST, with its CSRF token, verifies. For an account a sign-up made, the form asks for the name and the
password: the link proves the address, so what its follower types becomes the account's. The rules are
``idp.accounts.verification``'s."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.accounts import verification
from idp.accounts.errors import AccountError
from idp.accounts.links import InvalidLink
from idp.web import forms
from idp.web.context import Canary, canary

EXPIRED = "This link has expired or was already used."
READY = "Your account is ready: sign in with your e-mail address and the password you chose."


def _pending(c: Canary, token: str) -> verification.PendingLink | None:
    with c.factory() as db:
        return verification.pending(c.accounts, db, token)


def _expired(request: Request) -> Response:
    return forms.page(request, "notice.html", {"title": "Link expired", "message": EXPIRED}, status=400)


def _form(request: Request, link: verification.PendingLink, values: dict[str, Any], status: int = 200) -> Response:
    return forms.page(request, "email_verify.html", {"email": link.email, "choose_password": link.choose_password,
                                                     "name": "", **values}, status=status)


async def verify_form(request: Request) -> Response:
    c = canary(request)
    token = request.query_params.get("token", "")
    back = forms.return_to(request.query_params.get(forms.RETURN_FIELD))
    link = await c.run(_pending, c, token)
    if link is None:
        return _expired(request)
    return _form(request, link, {"token": token, "authorization_request": back})


def _verify(c: Canary, token: str, name: str, password: str | None) -> str:
    """"" when done, else what to tell the person."""
    with c.factory() as db:
        try:
            verification.verify(c.accounts, db, token, name=name, password=password)
        except InvalidLink:
            return EXPIRED
        except AccountError as err:
            return str(err)[:1].upper() + str(err)[1:] + "."
        db.commit()
        return ""


async def verify(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    token = form.get("token", "")
    back = forms.return_to(form.get(forms.RETURN_FIELD))
    link = await c.run(_pending, c, token)
    if link is None:
        return _expired(request)
    name, password = form.get("name", "").strip(), form.get("password", "")
    if link.choose_password and (not name or len(name) > 200 or not password):
        problem = "Enter your name and a password."
    elif link.choose_password and password != form.get("repeat", ""):
        problem = "The two passwords differ."
    else:
        problem = await c.run(_verify, c, token, name, password if link.choose_password else None)
    if problem == EXPIRED:
        return _expired(request)
    if problem:
        return _form(request, link, {"token": token, "authorization_request": back, "name": name,
                                     "error": problem}, status=400)
    return forms.page(request, "notice.html", {
        "title": "Account ready" if link.choose_password else "Address confirmed",
        "message": READY if link.choose_password else "Your e-mail address is confirmed.",
        "sign_in": forms.sign_in_url(back)})


routes = [
    Route("/email/verify", verify_form, methods=["GET"], name="email_verify"),
    Route("/email/verify", verify, methods=["POST"]),
]
