"""What every console page shares: the operator check, CSRF on every form, rendering, and service errors
shown on the page (with the status they mean) instead of a 500.

A page is ``async def show(request, op, *, error="", status=200, form=None)``; a form posts to an action
``async def act(request, op, form)`` that calls a domain service and redirects (303) to a page with a
notice, or raises the service's error, which ``action`` renders on the page the form came from.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl

from sqlalchemy.exc import DataError, IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from analytics.alerts import AlertConfigError, EndpointInUse, UnknownEndpoint, UnknownRule
from analytics.api import ClickHouseError
from idp.accounts.errors import AccountError, EmailTaken
from idp.accounts.errors import NotFound as AccountNotFound
from idp.db import transaction
from idp.oauth.clients import InvalidClientField
from idp.oauth.errors import ClientRegistrationError
from idp.oauth.server import read_body
from idp.web import csrf
from idp.web.admin import schemas
from idp.web.admin.validation import Invalid, validate
from idp.web.console.auth import Operator, operator
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=[HERE / "templates", HERE.parent / "templates"])
MAX_FIELDS = 200
PAGE_SIZE = 50
MAX_OFFSET = 10**9
_DIGITS = re.compile(r"[0-9]{1,9}")
_MANY_DIGITS = re.compile(r"[0-9]{10,}")
HEADERS = {**NO_STORE, "X-Frame-Options": "DENY"}
T = TypeVar("T")

# What a redirect after a successful form says; the query string names one of these, never free text.
NOTICES = {
    "invited": "Invitation sent: the person joins when they follow the link in the mail.",
    "reset-sent": "A password reset link is on its way to the account's e-mail address.",
    "disabled": "The account is disabled: it cannot sign in, its sessions ended and its tokens stopped working.",
    "enabled": "The account is enabled: it may sign in again.",
    "factors-reset": "The account's second factors are removed: it signs in with its password alone, or enrolls "
                     "again where its organization requires a second factor.",
    "policy-saved": "The organization's second-factor policy is saved.",
    "org-created": "The organization is created.",
    "org-updated": "The organization is saved.",
    "org-deleted": "The organization is deleted; its accounts are kept.",
    "member-saved": "The membership is saved.",
    "member-removed": "The member is removed from the organization.",
    "client-updated": "The client is saved.",
    "client-deleted": "The client is deleted; its grants and tokens went with it.",
    "rule-created": "The alert rule is created; its first run reports the accounts already quiet, once.",
    "rule-updated": "The alert rule is saved.",
    "rule-deleted": "The alert rule is deleted.",
    "webhook-enabled": "The webhook endpoint is enabled again.",
    "webhook-updated": "The webhook endpoint is saved.",
    "webhook-deleted": "The webhook endpoint is deleted.",
}


class Refused(Exception):
    """A form value the console cannot pass on at all (a number that is not one)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def explain(error: Exception) -> tuple[int, str] | None:
    """The status and message of a service's refusal; None for anything else (a real fault)."""
    if isinstance(error, Refused):
        return error.status, str(error)
    if isinstance(error, AccountNotFound | UnknownRule | UnknownEndpoint):
        return 404, str(error)
    if isinstance(error, EmailTaken | EndpointInUse):
        return 409, str(error)
    if isinstance(error, AccountError):
        return 400, str(error)
    if isinstance(error, InvalidClientField):
        return 400, f"{error.field}: {error.description}"
    if isinstance(error, ClientRegistrationError):
        return 400, str(error.description)
    if isinstance(error, AlertConfigError):
        return 400, f"{error.field} {error.message}"
    if isinstance(error, Invalid):
        return 400, f"{error.field} {error.message}"
    if isinstance(error, ClickHouseError):
        return 503, f"analytics is unavailable now ({error}); events wait in the spool, try again later"
    if isinstance(error, IntegrityError):
        return 409, "the change conflicts with another one; reload and retry"
    if isinstance(error, DataError):
        return 400, "a value does not fit the database"
    return None


class Form:
    """A posted urlencoded form; fields may repeat (check boxes)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.pairs:
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def has(self, name: str) -> bool:
        """The field was posted (possibly empty)."""
        return any(key == name for key, _ in self.pairs)

    def lines(self, name: str) -> list[str]:
        """A text area's non-empty lines, each stripped."""
        return [line.strip() for line in self.get(name).splitlines() if line.strip()]

    def flag(self, name: str) -> bool:
        return self.get(name) in {"on", "1", "true", "yes"}

    def number(self, name: str, label: str) -> int:
        number = whole_number(self.get(name).strip())
        if number is None:
            raise Refused(f"{label} must be a whole number")
        return number


def whole_number(value: str) -> int | None:
    """``value`` as a number when it is 1 to 9 ASCII digits, else None. (``str.isdigit`` also takes digits
    such as "²", which ``int`` refuses.)"""
    return int(value) if _DIGITS.fullmatch(value) else None


def page_offset(request: Request) -> int:
    """The ``offset`` query parameter of a listing: 0 when absent or not a number, at most 10⁹."""
    raw = request.query_params.get("offset", "0")
    if _MANY_DIGITS.fullmatch(raw):
        return MAX_OFFSET
    return whole_number(raw) or 0


def check(schema: dict[str, Any], value: Any, field: str) -> None:
    """Hold a value to the admin API's schema for it (raises ``Invalid``, shown on the page)."""
    validate(schema, value, schemas.resolve, field)


async def read(request: Request, c: Canary) -> Form:
    body = await read_body(request, c.settings.max_body_bytes)
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as err:
        raise Refused("the form could not be read") from err
    return Form(pairs)


def render(request: Request, op: Operator, template: str, context: dict[str, Any], *, error: str = "",
           status: int = 200) -> Response:
    """A console page; every page carries the CSRF token its forms post back."""
    c = canary(request)
    token = csrf.token_for(request)
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    response: Response = TEMPLATES.TemplateResponse(
        request, template, {"op": op, "csrf_token": token, "notice": notice, "error": error, **context},
        status_code=status, headers=HEADERS)
    csrf.set_cookie(response, token, c.settings.secure_cookies)
    return response


def done(path: str, notice: str) -> Response:
    assert notice in NOTICES
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}done={notice}", status_code=303, headers=NO_STORE)


async def work(c: Canary, fn: Callable[..., T], *args: Any) -> T:
    """``fn(db, *args)`` off the event loop in one transaction: committed when it returns."""

    def run() -> T:
        with transaction(c.factory) as db:
            return fn(db, *args)

    return await c.run(run)


async def look(c: Canary, fn: Callable[..., T], *args: Any) -> T:
    """``fn(db, *args)`` off the event loop, reading only."""

    def run() -> T:
        with c.factory() as db:
            return fn(db, *args)

    return await c.run(run)


class Show(Protocol):
    def __call__(self, request: Request, op: Operator, *, error: str = "", status: int = 200,
                 form: Form | None = None) -> Awaitable[Response]: ...


Act = Callable[[Request, Operator, Form], Awaitable[Response]]


async def refusal(show: Show, request: Request, op: Operator, message: str, status: int,
                  form: Form | None) -> Response:
    """``show`` with the refusal on it; a page of its own when ``show`` cannot be shown (the thing is gone)."""
    try:
        return await show(request, op, error=message, status=status, form=form)
    except Exception as err:
        explained = explain(err)
        if explained is None:
            raise
        return render(request, op, "console/problem.html", {}, error=message, status=status)


def page(show: Show) -> Callable[[Request], Awaitable[Response]]:
    """A GET endpoint: the operator check, then the page."""

    @functools.wraps(show)
    async def endpoint(request: Request) -> Response:
        op = await operator(request)
        if isinstance(op, Response):
            return op
        try:
            return await show(request, op)
        except Exception as err:
            explained = explain(err)
            if explained is None:
                raise
            return render(request, op, "console/problem.html", {}, error=explained[1], status=explained[0])

    return endpoint


def action(show: Show) -> Callable[[Act], Callable[[Request], Awaitable[Response]]]:
    """A POST endpoint: the operator check, the CSRF check, then the action; a refusal is shown on ``show``."""

    def wrap(act: Act) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(act)
        async def endpoint(request: Request) -> Response:
            op = await operator(request)
            if isinstance(op, Response):
                return op
            c = canary(request)
            try:
                form = await read(request, c)
            except Refused as err:
                return await refusal(show, request, op, str(err), 400, None)
            if not csrf.valid(request, {csrf.FIELD: form.get(csrf.FIELD)}):
                return await refusal(show, request, op, "the form had expired or came from another site; "
                                     "nothing was changed: try again", 403, form)
            try:
                return await act(request, op, form)
            except Exception as err:
                explained = explain(err)
                if explained is None:
                    raise
                return await refusal(show, request, op, explained[1], explained[0], form)

        return endpoint

    return wrap
