"""CSRF protection for the login, consent and logout forms: a double-submit token.

A random value lives in an HttpOnly, SameSite=Lax cookie and in a hidden form field; a POST is accepted only
when both are present and equal (compared in constant time).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from idp.opaque import new_secret

COOKIE = "canary_csrf"
FIELD = "csrf_token"


def token_for(request: Request) -> str:
    existing = request.cookies.get(COOKIE)
    return existing if existing and 20 <= len(existing) <= 64 else new_secret(24)


def set_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")


def valid(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    field = form.get(FIELD, "")
    if not (cookie and field and field.isascii()):  # a token is ASCII; JSON bodies can carry lone surrogates
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())
