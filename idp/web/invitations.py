"""``/invitations/accept``: the mailed invitation link. Someone without a password sets their name and one;
someone with an account signs in with its password. Then they are signed in (a login session; not when a second
factor is due, which the full sign-in asks for) and, when the invitation named a client with an
``initiate_login_uri``, sent there to start the application's own sign-in (OpenID Connect Core §4: ``iss`` and
``login_hint``); otherwise a page says they joined. The rules are ``idp.accounts.invitations``'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from idp.accounts import invitations, sessions
from idp.accounts.errors import AccountError
from idp.accounts.factors import policy as factor_policy
from idp.accounts.links import InvalidLink
from idp.accounts.models import Organization, User
from idp.oauth.models import Client
from idp.web import forms
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE
from idp.web.security import allow_images_from

EXPIRED = "This invitation has expired, was revoked or was already accepted. Ask for a new one."


@dataclass
class Accepted:
    session_cookie: str | None
    """None when a second factor is due: the person joined, and signs in through the full sign-in."""
    organization: str
    client_name: str = ""
    continue_to: str = ""


def _page_values(c: Canary, token: str) -> dict[str, Any] | None:
    with c.factory() as db:
        invitation = invitations.find_live(c.accounts, db, token)
        if invitation is None:
            return None
        user = db.get(User, invitation.user_id)
        org = db.get(Organization, invitation.organization_id)
        client = db.get(Client, invitation.client_id) if invitation.client_id else None
        if user is None or org is None or user.disabled:
            return None
        logo = client.logo_uri if client is not None else None
        return {"token": token, "email": user.email, "organization": org.name or org.slug,
                "has_password": user.password_hash is not None, "client_name": client.name if client else "",
                "logo_uri": logo if logo and logo.startswith("https://") else None}


async def accept_form(request: Request) -> Response:
    c = canary(request)
    values = await c.run(_page_values, c, request.query_params.get("token", ""))
    if values is None:
        return forms.page(request, "notice.html", {"title": "Invitation not valid", "message": EXPIRED}, status=400)
    allow_images_from(request, values["logo_uri"])
    return forms.page(request, "invitation.html", values)


def _accept(c: Canary, token: str, name: str, password: str) -> Accepted | str:
    with c.factory() as db:
        try:
            user, invitation = invitations.accept(c.accounts, db, token, password=password, name=name)
        except InvalidLink:
            return EXPIRED
        except AccountError as err:
            return str(err)[:1].upper() + str(err)[1:] + "."
        now = c.clock.now()
        cookie = None
        # A password is the whole sign-in only for accounts that need no second factor (none enrolled, none
        # required by an organization); the others join now and sign in through the second step.
        if not (factor_policy.factors_of(db, user.id).any or factor_policy.required_by_organization(db, user.id)):
            user.last_sign_in_at = now
            cookie, _session = sessions.start_session(db, user, c.settings.session_ttl, now)
        org = db.get(Organization, invitation.organization_id)
        client = db.get(Client, invitation.client_id) if invitation.client_id else None
        db.commit()
        if cookie is not None:
            c.activity.signin_succeeded(db, user, client.client_id if client else "")
        accepted = Accepted(cookie, org.name or org.slug if org else "")
        if client is not None:
            accepted.client_name = client.name
            if client.initiate_login_uri:
                separator = "&" if "?" in client.initiate_login_uri else "?"
                accepted.continue_to = client.initiate_login_uri + separator + urlencode(
                    {"iss": c.settings.issuer, "login_hint": user.email})
        return accepted


async def accept(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    token, password = form.get("token", ""), form.get("password", "")
    if "repeat" in form and password != form["repeat"]:
        result: Accepted | str = "The two passwords differ."
    elif not password or len(password) > 1024 or len(form.get("name", "")) > 200:
        result = "Enter a password."
    else:
        result = await c.run(_accept, c, token, form.get("name", ""), password)
    if isinstance(result, str):
        values = await c.run(_page_values, c, token)
        if values is None:
            return forms.page(request, "notice.html", {"title": "Invitation not valid", "message": EXPIRED},
                              status=400)
        return forms.page(request, "invitation.html", {**values, "error": result, "name": form.get("name", "")},
                          status=400)
    response: Response
    if result.continue_to:
        response = RedirectResponse(result.continue_to, status_code=303, headers=NO_STORE)
    else:
        message = f"You joined {result.organization}."
        if result.client_name:
            message += (f" Go back to {result.client_name}: you are signed in." if result.session_cookie
                        else f" Go back to {result.client_name} and sign in.")
        response = forms.page(request, "notice.html", {"title": "Welcome", "message": message})
    if result.session_cookie is not None:
        response.set_cookie(SESSION_COOKIE, result.session_cookie, max_age=c.settings.session_ttl, httponly=True,
                            samesite="lax", secure=c.settings.secure_cookies, path="/")
    return response


routes = [
    Route("/invitations/accept", accept_form, methods=["GET"], name="invitation_accept"),
    Route("/invitations/accept", accept, methods=["POST"]),
]
