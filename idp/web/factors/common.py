"""What the second-factor pages share: their headers, the security page's paths, CSRF, the relying party, JSON
bodies, and the end of a sign-in (the session starts, the browser goes back to /authorize to finish the
authorization request)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from idp.accounts import sessions
from idp.accounts.factors import policy
from idp.accounts.factors.passkeys import RelyingParty
from idp.accounts.models import FactorChallenge, LoginSession, User
from idp.oauth import authorize as authz
from idp.oauth.errors import InvalidRequest
from idp.oauth.server import parse_form, read_body
from idp.web import csrf
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary
from idp.web.factors import handoff
from idp.web.responses import NO_STORE, error_page

# The Content-Security-Policy is the one every HTML page gets (``idp.web.security``): the passkey script is a
# file of this origin, which it allows.
PAGE_HEADERS = {**NO_STORE, "X-Frame-Options": "DENY"}
PATH = "/account/security"
CONFIRM_PATH = PATH + "/confirm"


def signed_session(c: Canary, db: Session, cookie: str | None) -> tuple[LoginSession, User] | None:
    """The live session of this cookie and its user, if any."""
    session = sessions.load_session(db, cookie, c.clock.now())
    user = None if session is None else db.get(User, session.user_id)
    return None if session is None or user is None else (session, user)


def relying_party(c: Canary) -> RelyingParty:
    return RelyingParty.for_issuer(c.settings.issuer)


def page(request: Request, c: Canary, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page with a form: the CSRF token in ``csrf_token`` and its cookie."""
    token = csrf.token_for(request)
    response = c.templates.TemplateResponse(request, template, {**context, "csrf_token": token},
                                            status_code=status, headers=PAGE_HEADERS)
    csrf.set_cookie(response, token, c.settings.secure_cookies)
    return response


async def json_body(request: Request, c: Canary) -> dict[str, Any]:
    """A JSON object posted by the passkey script, with its CSRF token checked."""
    try:
        value = json.loads(await read_body(request, c.settings.max_body_bytes))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest("the body must be a JSON object") from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidRequest("the body must be a JSON object")
    token = value.get("csrf_token")
    if not isinstance(token, str) or not csrf.valid(request, {"csrf_token": token}):
        raise InvalidRequest("the page expired or was not sent by this site (CSRF)")
    return value


def client_id_of(encoded_request: str) -> str:
    return dict(parse_qsl(encoded_request)).get("client_id", "")


def finish(c: Canary, db: Session, user: User, methods: Sequence[str], encoded_request: str,
           method: str) -> tuple[str, str]:
    """Start the session for ``user``, who authenticated by ``methods``; commit; record the sign-in. Returns the
    session cookie and where the browser goes next: the authorization request again, now with a session (the
    login it asked for is done, so ``prompt=login`` and ``max_age`` are dropped)."""
    now = c.clock.now()
    cookie, session = sessions.start_session(db, user, c.settings.session_ttl, now, methods)
    policy.clear_failures(db, user.id)
    params = dict(parse_qsl(encoded_request, keep_blank_values=True))
    try:
        validated = authz.Validator(db, c.settings.issuer, c.keys, c.server.clients).validate(params)
    except authz.RedirectError:
        validated = None
    if isinstance(validated, authz.AuthorizationRequest):
        params = validated.without_prompt("login").params
    db.commit()
    c.activity.signin_succeeded(db, user, params.get("client_id", ""), method, session.amr.split())
    return cookie, f"/authorize?{urlencode(params)}"


def signed_in(response: Response, c: Canary, session_cookie: str) -> Response:
    response.set_cookie(SESSION_COOKIE, session_cookie, max_age=c.settings.session_ttl, httponly=True,
                        samesite="lax", secure=c.settings.secure_cookies, path="/")
    response.delete_cookie(handoff.COOKIE, path="/", httponly=True, samesite="lax", secure=c.settings.secure_cookies)
    return response


async def form_with_csrf(request: Request, c: Canary) -> dict[str, str] | Response:
    """A posted form whose CSRF token is good, or the error page."""
    try:
        form = parse_form(await read_body(request, c.settings.max_body_bytes))
    except InvalidRequest as exc:
        return error_page(request, "invalid_request", exc.description)
    if not csrf.valid(request, form):
        return error_page(request, "invalid_request", "the form expired or was not sent by this site (CSRF)", 403)
    return form


def count_answer(c: Canary, db: Session, row: FactorChallenge, user_id: str) -> policy.Counted | None:
    """One second-factor answer counted against its ceremony and the account under the login policy's limits
    (``policy.count_answer``), and committed, for every concurrent answer to see; None when it may not be
    checked (no answer left, or the account locked)."""
    counted = policy.count_answer(db, row, user_id, c.settings.login_max_failures, c.settings.login_lock_seconds,
                                  c.clock.now())
    db.commit()
    return counted
