"""What the account pages share: a page rendered with a CSRF token (the cookie set with it), a form read with
its CSRF token checked, and the way back to the application's sign-in (``/authorize`` with the authorization
request's parameters, never an address given by the request: no open redirect)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from idp.oauth.errors import InvalidRequest
from idp.oauth.server import parse_form, read_body
from idp.web import csrf
from idp.web.context import canary
from idp.web.responses import NO_STORE, error_page

# No Content-Security-Policy here: the pages get the full one every HTML page gets (``idp.web.security``).
PAGE_HEADERS = {**NO_STORE, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
RETURN_FIELD = "authorization_request"


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    c = canary(request)
    token = csrf.token_for(request)
    values = {"csrf_token": token, "product": c.settings.product_name,
              "password_min_length": c.settings.password_min_length, **context}
    response = c.templates.TemplateResponse(request, template, values, status_code=status, headers=PAGE_HEADERS)
    csrf.set_cookie(response, token, c.settings.secure_cookies)
    return response


async def read(request: Request) -> dict[str, str] | Response:
    """The posted form, or the error page to answer (body too large or malformed, CSRF token missing)."""
    c = canary(request)
    try:
        form = parse_form(await read_body(request, c.settings.max_body_bytes))
    except InvalidRequest as exc:
        return error_page(request, "invalid_request", exc.description)
    if not csrf.valid(request, form):
        return error_page(request, "invalid_request", "the form expired or was not sent by this site (CSRF)",
                          status=403)
    return form


def return_to(value: str | None) -> str:
    """The authorization request to go back to, re-encoded (only its parameters survive), or ""."""
    if not value or len(value) > 8192:
        return ""
    return urlencode(parse_qsl(value.lstrip("?"), keep_blank_values=True))


def sign_in_url(authorization_request: str) -> str:
    return f"/authorize?{authorization_request}" if authorization_request else ""
