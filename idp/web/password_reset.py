"""``/password/forgot`` (ask for a reset link: the same answer whether or not the address has an account, in the
same time: the link is made and mailed after the answer is sent, ``idp.web.after_response``) and
``/password/reset`` (the mailed link: a new password). The rules are ``idp.accounts.recovery``'s."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.accounts import recovery
from idp.accounts.errors import AccountError
from idp.accounts.links import InvalidLink
from idp.web import forms
from idp.web.after_response import after_response
from idp.web.context import Canary, canary
from idp.web.throttling import client_address, take_attempt

log = logging.getLogger("canary.accounts")
SENT = ("If an account exists for {email}, we sent it a link to choose a new password. "
        "The link works for 30 minutes.")


async def forgot_form(request: Request) -> Response:
    back = forms.return_to(request.query_params.get(forms.RETURN_FIELD))
    return forms.page(request, "password_forgot.html", {"authorization_request": back, "email": "",
                                                         "sign_in": forms.sign_in_url(back)})


def _request_reset(c: Canary, email: str) -> None:
    with c.factory() as db:
        recovery.request_reset(c.accounts, db, email)
        db.commit()


async def forgot(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    back = forms.return_to(form.get(forms.RETURN_FIELD))
    email = form.get("email", "").strip()
    if not email or len(email) > 320:
        return forms.page(request, "password_forgot.html", {
            "authorization_request": back, "email": email, "error": "Enter your e-mail address.",
            "sign_in": forms.sign_in_url(back)}, status=400)
    client = client_address(request)
    refused = await c.run(take_attempt, c.throttle, c.factory, c.throttle.limits.reset(client))
    page = forms.page(request, "notice.html", {"title": "Check your mail", "message": SENT.format(email=email),
                                               "sign_in": forms.sign_in_url(back)})
    if refused is None:
        page.background = after_response(c, _request_reset, c, email)
    else:  # the same answer: nothing tells a prober that this address was not mailed
        log.warning("password reset requests from %s throttled", client)
        c.activity.signin_throttled(None, None, refused.limit, "password_reset", "")
    return page


def _reset_email(c: Canary, token: str) -> str | None:
    with c.factory() as db:
        user = recovery.reset_account(c.accounts, db, token)
        return None if user is None or user.disabled else user.email


EXPIRED = "This link has expired or was already used. Ask for a new one."


async def reset_form(request: Request) -> Response:
    c = canary(request)
    token = request.query_params.get("token", "")
    email = await c.run(_reset_email, c, token)
    if email is None:
        return forms.page(request, "notice.html", {"title": "Link expired", "message": EXPIRED,
                                                   "forgot": True}, status=400)
    return forms.page(request, "password_reset.html", {"token": token, "email": email})


def _reset(c: Canary, token: str, password: str) -> str:
    """"" when done, else what to tell the user."""
    with c.factory() as db:
        try:
            recovery.reset_password(c.accounts, db, token, password)
        except InvalidLink:
            return EXPIRED
        except AccountError as err:
            return str(err)[:1].upper() + str(err)[1:] + "."
        db.commit()
        return ""


async def reset(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    token, password = form.get("token", ""), form.get("password", "")
    if password != form.get("repeat", ""):
        problem = "The two passwords differ."
    else:
        problem = await c.run(_reset, c, token, password)
    if problem == EXPIRED:
        return forms.page(request, "notice.html", {"title": "Link expired", "message": EXPIRED, "forgot": True},
                          status=400)
    if problem:
        email = await c.run(_reset_email, c, token)
        return forms.page(request, "password_reset.html", {"token": token, "email": email or "", "error": problem},
                          status=400)
    return forms.page(request, "notice.html", {
        "title": "Password changed",
        "message": "Your password was changed and every session was signed out. Sign in again from the "
                   "application with your new password."})


routes = [
    Route("/password/forgot", forgot_form, methods=["GET"], name="password_forgot"),
    Route("/password/forgot", forgot, methods=["POST"]),
    Route("/password/reset", reset_form, methods=["GET"], name="password_reset"),
    Route("/password/reset", reset, methods=["POST"]),
]
