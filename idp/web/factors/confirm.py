"""``/account/security/confirm``: "confirm it's you", before a change of second factors when the session's
authentication is older than ``idp.accounts.reauthentication.WINDOW``.

First the password (``idp.web.account.current_password``: counted toward the lockout like a sign-in). An account
with a second factor then gives one, as at sign-in: a code from the authenticator app, a recovery code or a
passkey (``/factors/passkeys.js``, pointed at this page's URLs). A wrong one counts toward the lockout like a
wrong code at sign-in (``policy.count_answer``), and the ceremony (cookie ``canary_confirm``, only its SHA-256
stored) allows a few before the password is asked again. Once done, the session's authentication is renewed
(``reauthentication.renew``) and the browser goes back to ``/account/security``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from idp.accounts.factors import challenges, levels, passkeys, policy, recovery, totp
from idp.accounts.models import FactorChallenge, LoginSession, User
from idp.accounts.reauthentication import renew
from idp.accounts.service import is_locked
from idp.oauth.errors import InvalidRequest
from idp.oauth.user_grants import ACCOUNT_CLIENT_ID
from idp.web.account import current_password
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary, canary
from idp.web.factors.common import (
    CONFIRM_PATH,
    PATH,
    count_answer,
    form_with_csrf,
    json_body,
    page,
    relying_party,
    signed_session,
)
from idp.web.responses import NO_STORE, error_page, json_error

COOKIE = "canary_confirm"
SECOND_PATH = CONFIRM_PATH + "/second-factor"
PASSKEY_PATH = CONFIRM_PATH + "/passkey"
TEMPLATE = "confirm_identity.html"
EXPIRED = "This confirmation expired or had too many wrong answers. Start again with your password."
SIGN_IN_FIRST = "Sign in from your application first, then open this page again."
URLS = {"password_action": CONFIRM_PATH, "second_action": SECOND_PATH, "passkey_options": PASSKEY_PATH + "/options",
        "passkey_verify": PASSKEY_PATH, "back": PATH}


@dataclass
class Step:
    """What the synchronous part decided; rendered on the event loop."""

    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    signed_out: bool = False
    location: str = ""
    ceremony: str | None = None  # a new ceremony's cookie
    ended: bool = False  # the ceremony's cookie goes


def _password_page(user: User, error: str = "", status: int = 200, ended: bool = False) -> Step:
    return Step({"step": "password", "email": user.email, "error": error}, status, ended=ended)


def _choices(db: Session, user: User, error: str = "", status: int = 200) -> Step:
    has = policy.factors_of(db, user.id)
    return Step({"step": "second", "email": user.email, "totp": has.totp, "passkeys": has.passkeys > 0,
                 "recovery": has.recovery_codes > 0, "error": error}, status)


def show_sync(c: Canary, cookie: str | None) -> Step:
    with c.factory() as db:
        signed = signed_session(c, db, cookie)
        return Step(signed_out=True) if signed is None else _password_page(signed[1])


def password_sync(c: Canary, cookie: str | None, password: str) -> Step:
    with c.factory() as db:
        signed = signed_session(c, db, cookie)
        if signed is None:
            return Step(signed_out=True)
        session, user = signed
        wrong = current_password.problem(c, db, user, password)
        if wrong:
            return _password_page(user, wrong, 400)
        now = c.clock.now()
        if not policy.factors_of(db, user.id).any:
            renew(session, [levels.PASSWORD], now)
            db.commit()
            return Step(location=PATH, ended=True)
        ceremony = challenges.start(db, challenges.CONFIRM, now, user_id=user.id)
        db.commit()
        return Step(location=SECOND_PATH, ceremony=ceremony)


def _in_ceremony(c: Canary, db: Session, cookie: str | None, ceremony: str | None
                 ) -> Step | tuple[LoginSession, User, FactorChallenge]:
    """The session, its user and their ceremony after a right password; else the page to show instead."""
    signed = signed_session(c, db, cookie)
    if signed is None:
        return Step(signed_out=True)
    now = c.clock.now()
    row = challenges.load(db, ceremony, challenges.CONFIRM, now)
    if row is None or row.user_id != signed[1].id or is_locked(signed[1], now):
        return _password_page(signed[1], EXPIRED, 400, ended=True)
    return signed[0], signed[1], row


def choices_sync(c: Canary, cookie: str | None, ceremony: str | None) -> Step:
    with c.factory() as db:
        found = _in_ceremony(c, db, cookie, ceremony)
        return found if isinstance(found, Step) else _choices(db, found[1])


def code_sync(c: Canary, cookie: str | None, ceremony: str | None, kind: str, code: str) -> Step:
    with c.factory() as db:
        found = _in_ceremony(c, db, cookie, ceremony)
        if isinstance(found, Step):
            return found
        session, user, row = found
        now = c.clock.now()
        counted = count_answer(c, db, row, user.id)  # before the check
        if counted is None:
            return _password_page(user, EXPIRED, 400, ended=True)
        right = (totp.verify(db, user.id, code, c.settings.key_encryption_key, now) if kind == "totp"
                 else recovery.use(db, user.id, code, now))
        if not right:
            return _failed(c, db, user, counted)
        policy.answered_right(db, user.id, counted)
        return _done(c, db, session, row, [levels.PASSWORD, levels.OTP])


def _done(c: Canary, db: Session, session: LoginSession, row: FactorChallenge, methods: list[str]) -> Step:
    challenges.finish(db, row)
    policy.clear_failures(db, session.user_id)
    renew(session, methods, c.clock.now())
    db.commit()
    return Step(location=PATH, ended=True)


def _failed(c: Canary, db: Session, user: User, counted: policy.Counted) -> Step:
    """A wrong second factor (counted already against the ceremony and the account), recorded as a failed
    sign-in; the owner is told if it locked the account."""
    if counted.locks is not None:
        c.login_policy.on_lock(db, user, counted.locks)
    db.commit()
    c.activity.signin_failed(db, user.id, "bad_second_factor", ACCOUNT_CLIENT_ID)
    db.refresh(user)
    if counted.left == 0 or is_locked(user, c.clock.now()):
        return _password_page(user, EXPIRED, 400, ended=True)
    return _choices(db, user, "That is not right. Try again.", 400)


# --- a passkey as the second factor (JSON, from /factors/passkeys.js) ------------------------------------------
def passkey_options_sync(c: Canary, cookie: str | None, ceremony: str | None) -> str | Response:
    """The options for ``navigator.credentials.get`` (JSON), or the error answer."""
    with c.factory() as db:
        found = _in_ceremony(c, db, cookie, ceremony)
        if isinstance(found, Step):
            return _json_refusal(found)
        _, user, row = found
        options, challenge = passkeys.authentication_options(relying_party(c), passkeys.of_user(db, user.id), False)
        row.webauthn_challenge = challenge
        db.commit()
        return options


def passkey_verify_sync(c: Canary, cookie: str | None, ceremony: str | None, credential: str) -> Response | None:
    """None when confirmed, else the error answer."""
    with c.factory() as db:
        found = _in_ceremony(c, db, cookie, ceremony)
        if isinstance(found, Step):
            return _json_refusal(found)
        session, user, row = found
        challenge, row.webauthn_challenge = row.webauthn_challenge, None  # one answer per challenge
        if challenge is None:
            db.commit()
            return json_error("invalid_request", "ask the passkey again")
        try:
            verified = passkeys.authenticate(db, relying_party(c), credential, challenge, user_id=user.id,
                                             require_verification=False, now=c.clock.now())
        except passkeys.PasskeyError as exc:
            counted = count_answer(c, db, row, user.id)
            after = _failed(c, db, user, counted) if counted is not None else None
            return json_error("access_denied", EXPIRED if after is None or after.ended else str(exc))
        _done(c, db, session, row, [levels.PASSWORD, levels.passkey_method(verified.backed_up)])
        return None


def _json_refusal(step: Step) -> Response:
    if step.signed_out:
        return json_error("login_required", "sign in first", 401)
    return json_error("invalid_request", EXPIRED)


# --- the endpoints ----------------------------------------------------------------------------------------------
def _render(request: Request, c: Canary, step: Step) -> Response:
    if step.signed_out:
        return error_page(request, "login_required", SIGN_IN_FIRST, 401)
    response = (RedirectResponse(step.location, status_code=303, headers=NO_STORE) if step.location
                else page(request, c, TEMPLATE, {**step.context, **URLS}, step.status))
    return _with_cookie(response, c, step)


def _with_cookie(response: Response, c: Canary, step: Step) -> Response:
    if step.ceremony is not None:
        response.set_cookie(COOKIE, step.ceremony, max_age=challenges.TTL_SECONDS, httponly=True,
                            samesite="strict", secure=c.settings.secure_cookies, path=CONFIRM_PATH)
    elif step.ended:
        response.delete_cookie(COOKIE, path=CONFIRM_PATH, httponly=True, samesite="strict",
                               secure=c.settings.secure_cookies)
    return response


async def confirm(request: Request) -> Response:
    c = canary(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if request.method == "GET":
        return _render(request, c, await c.run(show_sync, c, cookie))
    form = await form_with_csrf(request, c)
    if isinstance(form, Response):
        return form
    password = form.get("password", "")
    if not password or len(password) > 1024:
        return error_page(request, "invalid_request", "enter your password")
    return _render(request, c, await c.run(password_sync, c, cookie, password))


async def second_factor(request: Request) -> Response:
    c = canary(request)
    cookie, ceremony = request.cookies.get(SESSION_COOKIE), request.cookies.get(COOKIE)
    if request.method == "GET":
        return _render(request, c, await c.run(choices_sync, c, cookie, ceremony))
    form = await form_with_csrf(request, c)
    if isinstance(form, Response):
        return form
    kind, code = form.get("method", ""), form.get("code", "")
    if kind not in {"totp", "recovery"} or not code or len(code) > 64:
        return error_page(request, "invalid_request", "send method (totp or recovery) and a code")
    return _render(request, c, await c.run(code_sync, c, cookie, ceremony, kind, code))


async def passkey_options(request: Request) -> Response:
    c = canary(request)
    try:
        await json_body(request, c)
    except InvalidRequest as exc:
        return json_error("invalid_request", exc.description, 403)
    result = await c.run(passkey_options_sync, c, request.cookies.get(SESSION_COOKIE), request.cookies.get(COOKIE))
    if isinstance(result, Response):
        return result
    return Response(result, media_type="application/json", headers=NO_STORE)


async def passkey_verify(request: Request) -> Response:
    c = canary(request)
    try:
        body = await json_body(request, c)
    except InvalidRequest as exc:
        return json_error("invalid_request", exc.description, 403)
    credential = body.get("credential")
    if not isinstance(credential, dict):
        return json_error("invalid_request", "credential must be the passkey's answer, as an object")
    problem = await c.run(passkey_verify_sync, c, request.cookies.get(SESSION_COOKIE), request.cookies.get(COOKIE),
                          json.dumps(credential))
    if problem is not None:
        return problem
    return _with_cookie(JSONResponse({"location": PATH}, headers=NO_STORE), c, Step(ended=True))
