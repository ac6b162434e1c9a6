"""``/email/verify``: the mailed link. The GET shows a button (a mail scanner that fetches the link does not
spend it); the POST, with its CSRF token, verifies. The rules are ``idp.accounts.verification``'s."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.accounts import verification
from idp.accounts.errors import AccountError
from idp.accounts.links import InvalidLink
from idp.web import forms
from idp.web.context import Canary, canary

EXPIRED = "This link has expired or was already used."


def _address(c: Canary, token: str) -> str | None:
    with c.factory() as db:
        return verification.pending_address(c.accounts, db, token)


async def verify_form(request: Request) -> Response:
    c = canary(request)
    token = request.query_params.get("token", "")
    back = forms.return_to(request.query_params.get(forms.RETURN_FIELD))
    address = await c.run(_address, c, token)
    if address is None:
        return forms.page(request, "notice.html", {"title": "Link expired", "message": EXPIRED}, status=400)
    return forms.page(request, "email_verify.html", {"token": token, "email": address,
                                                     "authorization_request": back})


def _verify(c: Canary, token: str) -> str:
    with c.factory() as db:
        try:
            verification.verify(c.accounts, db, token)
        except InvalidLink:
            return EXPIRED
        except AccountError as err:
            return str(err)
        db.commit()
        return ""


async def verify(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    problem = await c.run(_verify, c, form.get("token", ""))
    if problem:
        return forms.page(request, "notice.html", {"title": "Not confirmed", "message": problem}, status=400)
    back = forms.return_to(form.get(forms.RETURN_FIELD))
    return forms.page(request, "notice.html", {
        "title": "Address confirmed", "message": "Your e-mail address is confirmed.",
        "sign_in": forms.sign_in_url(back)})


routes = [
    Route("/email/verify", verify_form, methods=["GET"], name="email_verify"),
    Route("/email/verify", verify, methods=["POST"]),
]
