"""Limits on sign-in and client authentication at the HTTP edge: who the client is, and the 429 answers.

The counting is ``idp.accounts.throttle``'s; this module builds it from the settings, names the client by its
address (the peer, or the forwarded address from a proxy trusted by ``CANARY_FORWARDED_ALLOW_IPS``), and says
"too many attempts" as an HTML page (the login form) or as JSON (``/token``, ``/introspect``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from idp.accounts.models import User
from idp.accounts.service import LoginPolicy
from idp.accounts.throttle import Limit, Limits, Throttle, Throttled
from idp.mail import Mailer
from idp.settings import Settings
from idp.web.responses import error_page, json_error


def limits(settings: Settings) -> Limits:
    return Limits.of(signin_address=settings.signin_address_limit, signin_account=settings.signin_account_limit,
                     client_auth=settings.client_auth_limit, window=settings.throttle_window)


def login_policy(settings: Settings, mail: Mailer | None = None) -> LoginPolicy:
    """Lockout from the settings; when an account becomes locked its owner is told by e-mail (queued in the
    sign-in's transaction, so a lock that is rolled back sends nothing)."""
    if mail is None:
        return LoginPolicy(settings.login_max_failures, settings.login_lock_seconds)

    def tell_owner(db: Session, user: User, locked_until: datetime) -> None:
        mail.send("account_locked", user.email, {"until": locked_until.strftime("%Y-%m-%d %H:%M")}, db=db)

    return LoginPolicy(settings.login_max_failures, settings.login_lock_seconds, on_lock=tell_owner)


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def take_attempt(throttle: Throttle, factory: sessionmaker[Session],
                 checks: list[tuple[Limit, str]]) -> Throttled | None:
    """One attempt taken on each check (committed), or what refused it (nothing taken then)."""
    with factory() as db:
        try:
            throttle.reserve(db, checks)
        except Throttled as refused:
            return refused
    return None


def too_many_page(request: Request, refused: Throttled) -> Response:
    response = error_page(request, "too_many_attempts",
                          f"Too many sign-in attempts. Try again in {refused.retry_after} seconds.", status=429)
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


def too_many_json(refused: Throttled) -> Response:
    return json_error("too_many_requests",
                      f"too many failed client authentications; retry after {refused.retry_after} seconds", 429,
                      {"Retry-After": str(refused.retry_after)})
