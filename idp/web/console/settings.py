"""The settings in force, as ``canary config`` lists them, with every secret shown only as set or not set."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from starlette.requests import Request
from starlette.responses import Response

from idp.settings import OPTIONS, Settings
from idp.web.console.auth import Operator
from idp.web.console.pages import Form, page, render
from idp.web.context import canary

SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")
URL_OPTIONS = {"CANARY_DATABASE_URL", "CANARY_ANALYTICS_URL"}


@dataclass(frozen=True)
class Shown:
    env: str
    value: str
    default: str
    help: str
    secret: bool


def _field(env: str) -> str:
    return env.removeprefix("CANARY_").lower()


def shown(settings: Settings) -> list[Shown]:
    """Each option's value in force; secrets as "set" or "not set", passwords taken out of URLs."""
    fields = {f.name for f in dataclasses.fields(settings)}
    out = []
    for option in OPTIONS:
        name = _field(option.env)
        known = name in fields
        raw = getattr(settings, name) if known else None
        value = "" if raw is None else str(raw)
        secret = any(word in option.env for word in SECRET_WORDS)
        if secret:
            value = "set" if value else "not set"
        elif option.env in URL_OPTIONS and value:
            try:
                value = make_url(value).render_as_string(hide_password=True)
            except Exception:  # an unparsable URL is shown as nothing rather than risk a password
                value = "(set)"
        elif not known:
            value = "(not read by this process)"
        out.append(Shown(option.env, value, option.default, option.help, secret))
    return out


async def show(request: Request, op: Operator, *, error: str = "", status: int = 200,
               form: Form | None = None) -> Response:
    c = canary(request)
    return render(request, op, "console/settings.html", {
        "section": "settings", "options": shown(c.settings), "smtp": bool(c.settings.smtp_host),
        "analytics": c.analytics is not None, "warnings": c.settings.warnings()}, error=error, status=status)


settings = page(show)
