"""The step after a correct password: a code from the authenticator app or a recovery code (a passkey is in
``idp.web.factors.passkey_signin``), or, when a second factor is required and the user has none, enrollment
of an authenticator app (its owner told by mail, as for any new factor). The session starts only once this step
is done.

A wrong code counts as a failed sign-in (``signin.failed``, reason ``bad_second_factor``) toward the account's
lockout; a ceremony allows a few attempts, then the sign-in starts again from the password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.accounts import notices
from idp.accounts.factors import challenges, levels, policy, recovery, totp
from idp.accounts.models import FactorChallenge, User
from idp.accounts.service import is_locked
from idp.web.context import Canary, canary
from idp.web.factors import handoff
from idp.web.factors.common import client_id_of, count_answer, finish, form_with_csrf, page, signed_in
from idp.web.responses import NO_STORE, error_page

EXPIRED = "This sign-in expired or had too many wrong codes. Start again from your application."


@dataclass
class Step:
    """What the synchronous part decided; rendered on the event loop."""

    template: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    expired: bool = False
    session: str | None = None
    location: str = ""


def _ceremony(c: Canary, db: Session, cookie: str | None, purpose: str) -> tuple[FactorChallenge, User] | None:
    now = c.clock.now()
    row = challenges.load(db, cookie, purpose, now)
    if row is None or row.user_id is None:
        return None
    user = db.get(User, row.user_id)
    if user is None or user.disabled or is_locked(user, now):
        return None
    return row, user


def _choices(c: Canary, db: Session, user: User, error: str = "") -> Step:
    has = policy.factors_of(db, user.id)
    return Step("second_factor.html", {"totp": has.totp, "passkeys": has.passkeys > 0,
                                       "recovery": has.recovery_codes > 0, "error": error})


def show_sync(c: Canary, cookie: str | None) -> Step:
    with c.factory() as db:
        found = _ceremony(c, db, cookie, challenges.SECOND_STEP)
        return Step(expired=True) if found is None else _choices(c, db, found[1])


def verify_sync(c: Canary, cookie: str | None, kind: str, code: str) -> Step:
    with c.factory() as db:
        found = _ceremony(c, db, cookie, challenges.SECOND_STEP)
        if found is None:
            return Step(expired=True)
        row, user = found
        now = c.clock.now()
        counted = count_answer(c, db, row, user.id)  # before the check
        if counted is None:
            return Step(expired=True)
        key = c.settings.key_encryption_key
        right = (totp.verify(db, user.id, code, key, now) if kind == "totp"
                 else recovery.use(db, user.id, code, now) if kind == "recovery" else False)
        if not right:
            return failed(c, db, row, user, counted)
        policy.answered_right(db, user.id, counted)
        challenges.finish(db, row)
        session, location = finish(c, db, user, [levels.PASSWORD, levels.OTP], row.request,
                                   "recovery_code" if kind == "recovery" else "totp")
        return Step(session=session, location=location)


def wrong_passkey(c: Canary, db: Session, row: FactorChallenge, user: User) -> Step:
    """A passkey that did not verify as the second factor: counted like a wrong code (one answer per WebAuthn
    challenge, so it is counted after the check)."""
    counted = count_answer(c, db, row, user.id)
    if counted is None:
        return Step(expired=True)
    return failed(c, db, row, user, counted)


def failed(c: Canary, db: Session, row: FactorChallenge, user: User, counted: policy.Counted) -> Step:
    """A wrong second factor (counted already against the ceremony and the account), recorded; the owner is told
    if it locked the account, as for wrong passwords."""
    if counted.locks is not None:
        c.login_policy.on_lock(db, user, counted.locks)
    db.commit()
    c.activity.signin_failed(db, user.id, "bad_second_factor", client_id_of(row.request))
    if counted.left == 0:
        return Step(expired=True)
    db.refresh(user)
    if is_locked(user, c.clock.now()):
        return Step(expired=True)
    return _choices(c, db, user, "That code is not right. Try again.")


def enroll_sync(c: Canary, cookie: str | None) -> Step:
    with c.factory() as db:
        found = _ceremony(c, db, cookie, challenges.ENROLL)
        if found is None:
            return Step(expired=True)
        _, user = found
        step = _enroll_page(c, db, user, "")
        db.commit()
        return step


def _enroll_page(c: Canary, db: Session, user: User, error: str) -> Step:
    key = c.settings.key_encryption_key
    secret = totp.pending_secret(db, user.id, key) or totp.start_enrollment(db, user, key, c.clock.now())
    uri = totp.provisioning_uri(secret, user.email)
    return Step("enroll_factor.html", {"qr": totp.qr_svg(uri), "secret": secret, "error": error,
                                       "action": handoff.ENROLL_PATH})


def confirm_enrollment_sync(c: Canary, cookie: str | None, code: str) -> Step:
    with c.factory() as db:
        found = _ceremony(c, db, cookie, challenges.ENROLL)
        if found is None:
            return Step(expired=True)
        row, user = found
        now = c.clock.now()
        left = challenges.reserve(db, row)
        db.commit()
        if left is None:
            return Step(expired=True)
        if not totp.confirm(db, user.id, code, c.settings.key_encryption_key, now):
            if left == 0:
                return Step(expired=True)
            step = _enroll_page(c, db, user, "That code is not right. Check the time on your device and try again.")
            db.commit()
            return step
        codes = recovery.replace_codes(db, user.id, now)
        challenges.finish(db, row)
        notices.factor_changed(c.mail, db, user, "totp_added")
        session, location = finish(c, db, user, [levels.PASSWORD, levels.OTP], row.request, "password")
        c.activity.mfa_enrolled(db, user.id, "totp")
        return Step("recovery_codes.html", {"codes": codes, "next": location}, session=session)


def _render(request: Request, c: Canary, step: Step) -> Response:
    if step.expired:
        return error_page(request, "access_denied", EXPIRED)
    response: Response
    if step.location:
        response = RedirectResponse(step.location, status_code=303, headers=NO_STORE)
    else:
        response = page(request, c, step.template, {**step.context, "action": step.context.get(
            "action", handoff.SECOND_STEP_PATH)})
    return signed_in(response, c, step.session) if step.session else response


async def second_factor(request: Request) -> Response:
    c = canary(request)
    cookie = request.cookies.get(handoff.COOKIE)
    if request.method == "GET":
        return _render(request, c, await c.run(show_sync, c, cookie))
    form = await form_with_csrf(request, c)
    if isinstance(form, Response):
        return form
    kind, code = form.get("method", ""), form.get("code", "")
    if kind not in {"totp", "recovery"} or not code or len(code) > 64:
        return error_page(request, "invalid_request", "send method (totp or recovery) and a code")
    return _render(request, c, await c.run(verify_sync, c, cookie, kind, code))


async def enroll(request: Request) -> Response:
    c = canary(request)
    cookie = request.cookies.get(handoff.COOKIE)
    if request.method == "GET":
        return _render(request, c, await c.run(enroll_sync, c, cookie))
    form = await form_with_csrf(request, c)
    if isinstance(form, Response):
        return form
    code = form.get("code", "")
    if not code or len(code) > 64:
        return error_page(request, "invalid_request", "enter the code your authenticator app shows")
    return _render(request, c, await c.run(confirm_enrollment_sync, c, cookie, code))
