"""The hand-off from the password form (``idp.web.authorize``) to the second step: after a correct password,
is a second factor due (the user has one) or must the user enroll one first (their organization requires it, or
the relying party asked for the multi-factor level)? The ceremony's cookie carries the browser there."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.responses import Response

from idp.accounts.factors import challenges, levels, policy
from idp.accounts.models import User
from idp.oauth.authorize import AuthorizationRequest

COOKIE = "canary_factor"
SECOND_STEP_PATH = "/login/second-factor"
ENROLL_PATH = "/login/enroll"


def after_password(db: Session, user: User, request: AuthorizationRequest, now: datetime) -> tuple[str, str] | None:
    """``(cookie, path)`` of the step due before a session may start, or None when the password is enough."""
    if policy.factors_of(db, user.id).any:
        purpose, path = challenges.SECOND_STEP, SECOND_STEP_PATH
    elif levels.needs_multi(request.acr_values) or policy.required_by_organization(db, user.id):
        purpose, path = challenges.ENROLL, ENROLL_PATH
    else:
        return None
    cookie = challenges.start(db, purpose, now, user_id=user.id, request=urlencode(request.params))
    return cookie, path


def set_cookie(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(COOKIE, value, max_age=challenges.TTL_SECONDS, httponly=True, samesite="lax",
                        secure=secure, path="/")
