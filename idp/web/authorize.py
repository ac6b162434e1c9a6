"""/authorize (GET and POST), the login form and the consent form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.accounts import sessions
from idp.accounts.errors import SignInFailed
from idp.accounts.models import LoginSession, User
from idp.accounts.service import authenticate, find_user_by_email
from idp.accounts.throttle import Throttled
from idp.oauth import authorize as authz
from idp.oauth.errors import InvalidRequest
from idp.oauth.server import parse_form, read_body, read_form
from idp.web import csrf, login_page
from idp.web.context import Canary, canary
from idp.web.factors import handoff
from idp.web.responses import NO_STORE, error_page
from idp.web.security import allow_images_from
from idp.web.throttling import client_address, too_many_page

SESSION_COOKIE = "canary_session"
SCOPE_DESCRIPTIONS = {
    "openid": "Know who you are",
    "profile": "See your name",
    "email": "See your e-mail address",
    "offline_access": "Stay signed in when you are away",
    "events:write": "Record how you use the product",
}


@dataclass
class Outcome:
    """What the synchronous part decided; rendered on the event loop."""

    kind: str  # page | redirect | login | consent | throttled
    location: str = ""
    error: str = ""
    description: str = ""
    request: authz.AuthorizationRequest | None = None
    email: str = ""
    set_session: str | None = None
    login_error: str = ""
    set_factor: str | None = None  # the second step's ceremony (idp.web.factors)
    throttled: Throttled | None = None


def _query_params(request: Request) -> dict[str, str]:
    return parse_form(request.url.query.encode())


def _flow(c: Canary, db: Session, req: authz.AuthorizationRequest, session: LoginSession | None,
          now: datetime, consented: bool = False) -> Outcome:
    try:
        decision = authz.decide(db, req, session, now, consented=consented)
    except authz.RedirectError as err:
        return Outcome("redirect", location=authz.error_redirect(err, c.settings.issuer))
    if isinstance(decision, authz.NeedLogin):
        return Outcome("login", request=decision.request)
    assert session is not None
    if isinstance(decision, authz.NeedConsent):
        user = db.get(User, session.user_id)
        return Outcome("consent", request=decision.request, email=user.email if user else "")
    location = authz.issue_code(db, decision.request, session, c.settings.issuer, c.settings.code_ttl, now)
    db.commit()
    return Outcome("redirect", location=location)


def _validate(c: Canary, db: Session, params: dict[str, str]) -> authz.AuthorizationRequest | Outcome:
    try:
        result = authz.Validator(db, c.settings.issuer, c.keys, c.server.clients).validate(params)
    except authz.RedirectError as err:
        return Outcome("redirect", location=authz.error_redirect(err, c.settings.issuer))
    if isinstance(result, authz.ErrorPage):
        return Outcome("page", error=result.error, description=result.description)
    return result


def authorize_sync(c: Canary, params: dict[str, str], cookie: str | None) -> Outcome:
    with c.factory() as db:
        req = _validate(c, db, params)
        if isinstance(req, Outcome):
            return req
        now = c.clock.now()
        return _flow(c, db, req, sessions.load_session(db, cookie, now), now)


def login_sync(c: Canary, params: dict[str, str], email: str, password: str, address: str = "") -> Outcome:
    with c.factory() as db:
        req = _validate(c, db, params)
        if isinstance(req, Outcome):
            return req
        now = c.clock.now()
        try:  # an attempt is taken from the address's and the account's allowance before the password is checked
            reservation = c.throttle.reserve(db, c.throttle.limits.signin(address, email))
        except Throttled as refused:
            known = find_user_by_email(db, email)
            c.activity.signin_throttled(db, known.id if known else None, refused.limit, "login", req.client.client_id)
            return Outcome("throttled", throttled=refused)
        try:
            user = authenticate(db, email, password, c.login_policy, now)
        except SignInFailed as failed:
            db.commit()  # what the lock notice did
            c.activity.signin_failed(db, failed.user_id, failed.reason, req.client.client_id)
            # Unknown, locked and disabled accounts get the wrong password's answer: it tells nothing.
            return Outcome("login", request=req, login_error="Wrong e-mail or password.",
                           email=email)
        c.throttle.release(db, reservation)  # a right password uses up no allowance
        second = handoff.after_password(db, user, req, now)
        if second is not None:
            db.commit()
            return Outcome("redirect", location=second[1], set_factor=second[0])
        cookie, session = sessions.start_session(db, user, c.settings.session_ttl, now)
        # The session, the user's sign-in time and (when no consent is needed) the code: one transaction.
        outcome = _flow(c, db, req.without_prompt("login"), session, now)
        db.commit()
        c.activity.signin_succeeded(db, user, req.client.client_id)
        outcome.set_session = cookie
        return outcome


def consent_sync(c: Canary, params: dict[str, str], cookie: str | None, allow: bool) -> Outcome:
    with c.factory() as db:
        req = _validate(c, db, params)
        if isinstance(req, Outcome):
            return req
        now = c.clock.now()
        session = sessions.load_session(db, cookie, now)
        if session is None:
            return Outcome("login", request=req)
        if not allow:
            err = authz.RedirectError(req.redirect_uri, "access_denied", "the user denied the request", req.state,
                                      c.settings.issuer)
            return Outcome("redirect", location=authz.error_redirect(err, c.settings.issuer))
        authz.record_consent(db, session.user_id, req, now)
        db.commit()
        return _flow(c, db, req.without_prompt("consent"), session, now, consented=True)


def render(request: Request, c: Canary, outcome: Outcome) -> Response:
    response: Response
    if outcome.kind == "page":
        return error_page(request, outcome.error, outcome.description)
    if outcome.throttled is not None:
        return too_many_page(request, outcome.throttled)
    if outcome.kind == "redirect":
        response = RedirectResponse(outcome.location, status_code=303 if request.method == "POST" else 302,
                                    headers=NO_STORE)
    else:
        req = outcome.request
        assert req is not None
        token = csrf.token_for(request)
        context: dict[str, Any] = {
            "client_name": req.client.name, "csrf_token": token,
            "authorization_request": urlencode(req.params),
        }
        if outcome.kind == "login":
            context.update(action=request.url_for("login").path, error=outcome.login_error,
                           login_hint=outcome.email or req.login_hint, **login_page.extras(c, req))
            allow_images_from(request, context["logo_uri"])
            template = "login.html"
        else:
            context.update(action=request.url_for("consent").path, scopes=req.scope.split(),
                           descriptions=SCOPE_DESCRIPTIONS, email=outcome.email)
            template = "consent.html"
        response = c.templates.TemplateResponse(request, template, context, headers=NO_STORE)
        csrf.set_cookie(response, token, c.settings.secure_cookies)
    if outcome.set_factor:
        handoff.set_cookie(response, outcome.set_factor, c.settings.secure_cookies)
    if outcome.set_session:
        response.set_cookie(SESSION_COOKIE, outcome.set_session, max_age=c.settings.session_ttl, httponly=True,
                            samesite="lax", secure=c.settings.secure_cookies, path="/")
    return response


async def authorize(request: Request) -> Response:
    c = canary(request)
    try:
        params = (await read_form(request, c.settings.max_body_bytes) if request.method == "POST"
                  else _query_params(request))
    except InvalidRequest as exc:
        return error_page(request, "invalid_request", exc.description)
    outcome = await c.run(authorize_sync, c, params, request.cookies.get(SESSION_COOKIE))
    return render(request, c, outcome)


async def _form_with_request(request: Request, c: Canary) -> tuple[dict[str, str], dict[str, str]] | Response:
    try:
        form = parse_form(await read_body(request, c.settings.max_body_bytes))
        params = dict(parse_qsl(form.get("authorization_request", ""), keep_blank_values=True))
    except InvalidRequest as exc:
        return error_page(request, "invalid_request", exc.description)
    if not csrf.valid(request, form):
        return error_page(request, "invalid_request", "the form expired or was not sent by this site (CSRF)",
                          status=403)
    if not params:
        return error_page(request, "invalid_request", "the authorization request is missing")
    return form, params


async def login(request: Request) -> Response:
    c = canary(request)
    parsed = await _form_with_request(request, c)
    if isinstance(parsed, Response):
        return parsed
    form, params = parsed
    email, password = form.get("email", ""), form.get("password", "")
    if not email or not password or len(email) > 320 or len(password) > 1024:
        outcome = await c.run(_invalid_login, c, params)
    else:
        outcome = await c.run(login_sync, c, params, email, password, client_address(request))
    return render(request, c, outcome)


def _invalid_login(c: Canary, params: dict[str, str]) -> Outcome:
    with c.factory() as db:
        req = _validate(c, db, params)
        if isinstance(req, Outcome):
            return req
        return Outcome("login", request=req, login_error="Enter your e-mail and password.")


async def consent(request: Request) -> Response:
    c = canary(request)
    parsed = await _form_with_request(request, c)
    if isinstance(parsed, Response):
        return parsed
    form, params = parsed
    decision = form.get("decision")
    if decision not in {"allow", "deny"}:
        return error_page(request, "invalid_request", "decision must be allow or deny")
    outcome = await c.run(consent_sync, c, params, request.cookies.get(SESSION_COOKIE), decision == "allow")
    return render(request, c, outcome)
