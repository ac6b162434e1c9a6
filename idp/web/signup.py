"""``/signup``: "Create an account" (only when ``CANARY_SIGNUP`` is not ``off``), throttled per client
address. The form asks for the e-mail address only: the name and the password are chosen on the page of the
mailed link (``idp.web.email_verification``). The rules are ``idp.accounts.signup``'s. The answer is the same
whether or not the address already has an account, and so is its time: the work on the address is done after
the answer is sent (``idp.web.after_response``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.accounts import signup
from idp.accounts.errors import AccountError
from idp.web import forms
from idp.web.after_response import after_response
from idp.web.context import Canary, canary
from idp.web.responses import error_page
from idp.web.throttling import client_address, take_attempt

SENT = "We sent a link to {email}. Follow it to confirm your address and choose your password."


def _closed(request: Request) -> Response:
    return error_page(request, "not_found", "sign-up is not available here; ask for an invitation", 404)


async def signup_form(request: Request) -> Response:
    c = canary(request)
    if c.settings.signup == "off":
        return _closed(request)
    back = forms.return_to(request.query_params.get(forms.RETURN_FIELD))
    return forms.page(request, "signup.html", {"authorization_request": back, "email": "",
                                               "domains": c.settings.signup_domains,
                                               "sign_in": forms.sign_in_url(back)})


def _sign_up(c: Canary, email: str, back: str) -> None:
    with c.factory() as db:
        signup.sign_up(c.accounts, db, email=email, back=back)
        db.commit()


def _refusal(c: Canary, email: str) -> str:
    """What is wrong with the address itself ("" if nothing): decided without reading any account."""
    if not email or len(email) > 320:
        return "Enter your e-mail address."
    try:
        signup.admitted_address(c.accounts, email)
    except AccountError as err:
        return str(err)[:1].upper() + str(err)[1:] + "."
    return ""


async def create(request: Request) -> Response:
    c = canary(request)
    if c.settings.signup == "off":
        return _closed(request)
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    back = forms.return_to(form.get(forms.RETURN_FIELD))
    email = form.get("email", "").strip()
    values = {"authorization_request": back, "email": email, "domains": c.settings.signup_domains,
              "sign_in": forms.sign_in_url(back)}
    refused = await c.run(take_attempt, c.throttle, c.factory, c.throttle.limits.signup(client_address(request)))
    if refused is not None:
        c.activity.signin_throttled(None, None, refused.limit, "signup", "")
        page = forms.page(request, "signup.html", {**values, "error": "Too many attempts from your network; "
                                                   f"try again in {refused.retry_after} seconds."}, status=429)
        page.headers["Retry-After"] = str(refused.retry_after)
        return page
    problem = _refusal(c, email)
    if problem:
        return forms.page(request, "signup.html", {**values, "error": problem}, status=400)
    page = forms.page(request, "notice.html", {"title": "Check your mail", "message": SENT.format(email=email)})
    page.background = after_response(c, _sign_up, c, email, back)
    return page


routes = [
    Route("/signup", signup_form, methods=["GET"], name="signup"),
    Route("/signup", create, methods=["POST"]),
]
