"""Passkeys at sign-in: passwordless with a discoverable credential from the login page, or as the second factor
after a password. The browser side is ``/factors/passkeys.js`` (a static file: the pages carry no inline
script); it asks for options, runs the WebAuthn ceremony and posts the result as JSON.

Passwordless: the authenticator must verify the user (PIN or biometric), so the session counts two factors
(``amr`` ``hwk``/``swk`` + ``mfa``). As a second factor: ``pwd`` + ``hwk``/``swk`` + ``mfa``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.accounts.factors import challenges, levels, passkeys
from idp.accounts.models import User
from idp.accounts.service import is_locked
from idp.oauth.errors import InvalidRequest
from idp.web.context import Canary, canary
from idp.web.factors import handoff
from idp.web.factors.common import finish, json_body, relying_party, signed_in
from idp.web.factors.second_step import wrong_passkey
from idp.web.responses import NO_STORE, json_error

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "passkeys.js"
MAX_REQUEST = 16 * 1024


MODES = {"signin": challenges.PASSKEY, "second-factor": challenges.SECOND_STEP}


def options_sync(c: Canary, cookie: str | None, mode: str, encoded_request: str) -> tuple[str, str | None] | str:
    """Options for the ceremony and, for a passwordless one, the new ceremony's cookie; or an error message."""
    rp = relying_party(c)
    now = c.clock.now()
    with c.factory() as db:
        if mode == "second-factor":
            second = challenges.load(db, cookie, challenges.SECOND_STEP, now)
            if second is None or second.user_id is None:
                return "this sign-in expired: start again"
            options, challenge = passkeys.authentication_options(rp, passkeys.of_user(db, second.user_id), False)
            second.webauthn_challenge = challenge
            db.commit()
            return options, None
        if not encoded_request or len(encoded_request) > MAX_REQUEST:
            return "the authorization request is missing"
        options, challenge = passkeys.authentication_options(rp, None, True)
        new_cookie = challenges.start(db, challenges.PASSKEY, now, request=encoded_request,
                                      webauthn_challenge=challenge)
        db.commit()
        return options, new_cookie


def verify_sync(c: Canary, cookie: str | None, mode: str, credential: str) -> tuple[str, str] | str:
    """The session cookie and where to go next, or an error message."""
    rp = relying_party(c)
    now = c.clock.now()
    with c.factory() as db:
        row = challenges.load(db, cookie, MODES[mode], now)
        if row is None or row.webauthn_challenge is None:
            return "this sign-in expired: start again"
        second_factor = row.purpose == challenges.SECOND_STEP
        try:
            verified = passkeys.authenticate(db, rp, credential, row.webauthn_challenge, user_id=row.user_id,
                                             require_verification=not second_factor, now=now)
        except passkeys.PasskeyError as exc:
            if second_factor:
                user = db.get(User, row.user_id)
                if user is not None:
                    wrong_passkey(c, db, row, user)
            else:
                challenges.finish(db, row)
                db.commit()
            return str(exc)
        user = db.get(User, verified.user_id)
        if user is None or user.disabled or is_locked(user, now):
            return "this account cannot sign in"
        challenges.finish(db, row)
        method = levels.passkey_method(verified.backed_up)
        methods = [levels.PASSWORD, method] if second_factor else [method, levels.MFA]
        return finish(c, db, user, methods, row.request, "passkey")


async def _body(request: Request, c: Canary) -> dict[str, Any] | Response:
    try:
        body = await json_body(request, c)
    except InvalidRequest as exc:
        return json_error("invalid_request", exc.description, 403 if "CSRF" in exc.description else 400)
    if body.get("mode") not in MODES:
        return json_error("invalid_request", "mode must be signin or second-factor")
    return body


async def options(request: Request) -> Response:
    c = canary(request)
    body = await _body(request, c)
    if isinstance(body, Response):
        return body
    encoded = body.get("authorization_request", "")
    result = await c.run(options_sync, c, request.cookies.get(handoff.COOKIE), body["mode"],
                         encoded if isinstance(encoded, str) else "")
    if isinstance(result, str):
        return json_error("invalid_request", result)
    response = Response(result[0], media_type="application/json", headers=NO_STORE)
    if result[1] is not None:
        handoff.set_cookie(response, result[1], c.settings.secure_cookies)
    return response


async def verify(request: Request) -> Response:
    c = canary(request)
    body = await _body(request, c)
    if isinstance(body, Response):
        return body
    credential = body.get("credential")
    if not isinstance(credential, dict):
        return json_error("invalid_request", "credential must be the passkey's answer, as an object")
    result = await c.run(verify_sync, c, request.cookies.get(handoff.COOKIE), body["mode"],
                         json.dumps(credential))
    if isinstance(result, str):
        return json_error("access_denied", result)
    session, location = result
    return signed_in(JSONResponse({"location": location}, headers=NO_STORE), c, session)


async def script(request: Request) -> Response:
    return Response(SCRIPT.read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300"})
