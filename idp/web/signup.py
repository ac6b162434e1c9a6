"""``/signup``: "Create an account" (only when ``CANARY_SIGNUP`` is not ``off``), throttled per client
address. The rules are ``idp.accounts.signup``'s; the answer is the same whether or not the address already
has an account."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.accounts import signup
from idp.accounts.errors import AccountError
from idp.web import forms
from idp.web.context import Canary, canary
from idp.web.responses import error_page
from idp.web.throttling import client_address, take_attempt

SENT = "We sent a link to {email}. Follow it to confirm your address; then you can sign in."


def _closed(request: Request) -> Response:
    return error_page(request, "not_found", "sign-up is not available here; ask for an invitation", 404)


async def signup_form(request: Request) -> Response:
    c = canary(request)
    if c.settings.signup == "off":
        return _closed(request)
    back = forms.return_to(request.query_params.get(forms.RETURN_FIELD))
    return forms.page(request, "signup.html", {"authorization_request": back, "email": "", "name": "",
                                               "domains": c.settings.signup_domains,
                                               "sign_in": forms.sign_in_url(back)})


def _sign_up(c: Canary, email: str, name: str, password: str, back: str) -> str:
    with c.factory() as db:
        try:
            signup.sign_up(c.accounts, db, email=email, name=name, password=password, back=back)
        except AccountError as err:
            return str(err)[:1].upper() + str(err)[1:] + "."
        db.commit()
        return ""


async def create(request: Request) -> Response:
    c = canary(request)
    if c.settings.signup == "off":
        return _closed(request)
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    back = forms.return_to(form.get(forms.RETURN_FIELD))
    email, name, password = form.get("email", "").strip(), form.get("name", "").strip(), form.get("password", "")
    values = {"authorization_request": back, "email": email, "name": name, "domains": c.settings.signup_domains,
              "sign_in": forms.sign_in_url(back)}
    refused = await c.run(take_attempt, c.throttle, c.factory, c.throttle.limits.signup(client_address(request)))
    if refused is not None:
        c.activity.signin_throttled(None, None, refused.limit, "signup", "")
        page = forms.page(request, "signup.html", {**values, "error": "Too many attempts from your network; "
                                                   f"try again in {refused.retry_after} seconds."}, status=429)
        page.headers["Retry-After"] = str(refused.retry_after)
        return page
    if not email or len(email) > 320 or len(name) > 200 or not password:
        problem = "Enter your name, e-mail address and a password."
    elif password != form.get("repeat", ""):
        problem = "The two passwords differ."
    else:
        problem = await c.run(_sign_up, c, email, name, password, back)
    if problem:
        return forms.page(request, "signup.html", {**values, "error": problem}, status=400)
    return forms.page(request, "notice.html", {"title": "Check your mail", "message": SENT.format(email=email)})


routes = [
    Route("/signup", signup_form, methods=["GET"], name="signup"),
    Route("/signup", create, methods=["POST"]),
]
