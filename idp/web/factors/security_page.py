"""``/account/security``: the signed-in user's own second factors. Set up or remove an authenticator app, see how
many recovery codes are left and make new ones, add and remove passkeys. Every change is a CSRF-protected POST
by the session's own user, whose authentication must be recent (``idp.accounts.reauthentication``: else the
change is refused and the page offers "confirm it's you", ``idp.web.factors.confirm``); enrollment and removal
are recorded (``mfa.enrolled``, ``mfa.removed``) and the owner is told by mail (``idp.accounts.notices``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from idp.accounts import notices
from idp.accounts.factors import challenges, passkeys, policy, recovery, totp
from idp.accounts.models import User
from idp.accounts.reauthentication import is_recent
from idp.oauth.errors import InvalidRequest
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary, canary
from idp.web.factors.common import (
    CONFIRM_PATH,
    PATH,
    form_with_csrf,
    json_body,
    page,
    relying_party,
    signed_session,
)
from idp.web.responses import NO_STORE, error_page, json_error

REGISTER_COOKIE = "canary_passkey_registration"
ACTIONS = {"totp-start", "totp-confirm", "totp-remove", "recovery-codes", "passkey-remove"}


@dataclass
class View:
    template: str = "account_security.html"
    context: dict[str, Any] = field(default_factory=dict)
    signed_out: bool = False
    redirect: bool = False
    confirm: bool = False  # the session's authentication is too old for a change: "confirm it's you" first


def _overview(c: Canary, db: Session, user: User, **extra: Any) -> View:
    has = policy.factors_of(db, user.id)
    return View(context={"email": user.email, "totp": has.totp, "recovery_left": has.recovery_codes,
                         "passkeys": passkeys.of_user(db, user.id),
                         "required": policy.required_by_organization(db, user.id), "error": "", "qr": "",
                         "secret": "", "recent": True, **extra})


def show_sync(c: Canary, cookie: str | None) -> View:
    with c.factory() as db:
        signed = signed_session(c, db, cookie)
        if signed is None:
            return View(signed_out=True)
        return _overview(c, db, signed[1], recent=is_recent(signed[0], c.clock.now()))


def act_sync(c: Canary, cookie: str | None, action: str, form: dict[str, str]) -> View:
    with c.factory() as db:
        signed = signed_session(c, db, cookie)
        if signed is None:
            return View(signed_out=True)
        session, user = signed
        now, key = c.clock.now(), c.settings.key_encryption_key
        if not is_recent(session, now):
            return View(confirm=True)
        view: View
        if action == "totp-start":
            if totp.confirmed(db, user.id):
                view = _overview(c, db, user, error="An authenticator app is already set up: remove it first.")
            else:
                secret = totp.start_enrollment(db, user, key, now)
                view = _overview(c, db, user, qr=totp.qr_svg(totp.provisioning_uri(secret, user.email)),
                                 secret=secret)
        elif action == "totp-confirm":
            if totp.confirm(db, user.id, form.get("code", ""), key, now):
                codes = recovery.replace_codes(db, user.id, now)
                notices.factor_changed(c.mail, db, user, "totp_added")
                db.commit()
                c.activity.mfa_enrolled(db, user.id, "totp")
                return View("recovery_codes.html", {"codes": codes, "next": PATH})
            pending = totp.pending_secret(db, user.id, key)
            if pending is None:
                view = _overview(c, db, user, error="Start the set-up again.")
            else:
                view = _overview(c, db, user, qr=totp.qr_svg(totp.provisioning_uri(pending, user.email)),
                                 secret=pending, error="That code is not right. Check the time on your device.")
        elif action == "totp-remove":
            if totp.remove(db, user.id):
                _forget_codes_without_factors(db, user.id)
                notices.factor_changed(c.mail, db, user, "totp_removed")
                db.commit()
                c.activity.mfa_removed(db, user.id, "totp")
            return View(redirect=True)
        elif action == "recovery-codes":
            if not policy.factors_of(db, user.id).any:
                view = _overview(c, db, user, error="Set up a second factor first.")
            else:
                codes = recovery.replace_codes(db, user.id, now)
                notices.factor_changed(c.mail, db, user, "recovery_codes")
                db.commit()
                return View("recovery_codes.html", {"codes": codes, "next": PATH})
        else:  # passkey-remove
            key_id = form.get("passkey", "")
            name = next((p.name for p in passkeys.of_user(db, user.id) if p.id == key_id), "")
            if passkeys.remove(db, user.id, key_id):
                _forget_codes_without_factors(db, user.id)
                notices.factor_changed(c.mail, db, user, "passkey_removed", name)
                db.commit()
                c.activity.mfa_removed(db, user.id, "passkey")
            return View(redirect=True)
        db.commit()
        return view


def _forget_codes_without_factors(db: Session, user_id: str) -> None:
    """Recovery codes stand in for a lost factor; with no factor left they would be a second password."""
    if not policy.factors_of(db, user_id).any:
        recovery.remove(db, user_id)


def _render(request: Request, c: Canary, view: View) -> Response:
    if view.signed_out:
        return error_page(request, "login_required", "Sign in from your application first, then open this page "
                          "again.", 401)
    if view.confirm:
        return RedirectResponse(CONFIRM_PATH, status_code=303, headers=NO_STORE)
    if view.redirect:
        return RedirectResponse(PATH, status_code=303, headers=NO_STORE)
    return page(request, c, view.template, view.context)


async def security(request: Request) -> Response:
    c = canary(request)
    return _render(request, c, await c.run(show_sync, c, request.cookies.get(SESSION_COOKIE)))


async def act(request: Request) -> Response:
    c = canary(request)
    action = request.path_params["action"]
    if action not in ACTIONS:
        return error_page(request, "not_found", "no such action", 404)
    form = await form_with_csrf(request, c)
    if isinstance(form, Response):
        return form
    return _render(request, c, await c.run(act_sync, c, request.cookies.get(SESSION_COOKIE), action, form))


# --- passkey registration (JSON, from /factors/passkeys.js) ----------------------------------------------------
def registration_options_sync(c: Canary, cookie: str | None) -> tuple[str, str] | Response:
    with c.factory() as db:
        signed = signed_session(c, db, cookie)
        if signed is None:
            return json_error("login_required", "sign in first", 401)
        if not is_recent(signed[0], c.clock.now()):
            return _confirm_first()
        user = signed[1]
        options, challenge = passkeys.registration_options(db, relying_party(c), user)
        ceremony = challenges.start(db, challenges.REGISTER, c.clock.now(), user_id=user.id,
                                    webauthn_challenge=challenge)
        db.commit()
        return options, ceremony


def register_sync(c: Canary, cookie: str | None, ceremony: str | None, credential: str, name: str
                  ) -> Response | None:
    """None when registered, else the answer saying what went wrong."""
    with c.factory() as db:
        signed = signed_session(c, db, cookie)
        now = c.clock.now()
        if signed is not None and not is_recent(signed[0], now):
            return _confirm_first()
        user = None if signed is None else signed[1]
        row = challenges.load(db, ceremony, challenges.REGISTER, now)
        if user is None or row is None or row.user_id != user.id or row.webauthn_challenge is None:
            return json_error("invalid_request", "the registration expired: start again")
        challenges.finish(db, row)
        try:
            added = passkeys.register(db, relying_party(c), user, credential, row.webauthn_challenge, name, now)
        except passkeys.PasskeyError as exc:
            db.commit()
            return json_error("invalid_request", str(exc))
        notices.factor_changed(c.mail, db, user, "passkey_added", added.name)
        db.commit()
        c.activity.mfa_enrolled(db, user.id, "passkey")
        return None


def _confirm_first() -> Response:
    return json_error("confirmation_required",
                      "it has been a while since you signed in: reload the page and confirm it is you", 403)


async def registration_options(request: Request) -> Response:
    c = canary(request)
    try:
        await json_body(request, c)
    except InvalidRequest as exc:
        return json_error("invalid_request", exc.description, 403)
    result = await c.run(registration_options_sync, c, request.cookies.get(SESSION_COOKIE))
    if isinstance(result, Response):
        return result
    response = Response(result[0], media_type="application/json", headers=NO_STORE)
    response.set_cookie(REGISTER_COOKIE, result[1], max_age=challenges.TTL_SECONDS, httponly=True,
                        samesite="strict", secure=c.settings.secure_cookies, path=PATH)
    return response


async def register(request: Request) -> Response:
    c = canary(request)
    try:
        body = await json_body(request, c)
    except InvalidRequest as exc:
        return json_error("invalid_request", exc.description, 403)
    credential, name = body.get("credential"), body.get("name", "")
    if not isinstance(credential, dict) or not isinstance(name, str) or len(name) > 100:
        return json_error("invalid_request", "send the passkey's answer as credential and an optional name")
    problem = await c.run(register_sync, c, request.cookies.get(SESSION_COOKIE),
                          request.cookies.get(REGISTER_COOKIE), json.dumps(credential), name)
    if problem is not None:
        return problem
    response = JSONResponse({"location": PATH}, headers=NO_STORE)
    response.delete_cookie(REGISTER_COOKIE, path=PATH, httponly=True, samesite="strict",
                           secure=c.settings.secure_cookies)
    return response
