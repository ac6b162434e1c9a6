"""The `slack` webhook format: a Slack-compatible incoming webhook receives `{"text": "..."}`, one line a
person reads, composed at sending time from the notification's stored JSON (the same JSON a `standard`
endpoint receives signed).

People are named by e-mail address (the account id when it has none) and organizations by slug, through an
``OrganizationNamer`` the host application gives (without one, or for an organization it does not know, the
id is shown).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

FORMATS = ("standard", "slack")
"""`standard`: the JSON notification signed per Standard Webhooks. `slack`: `{"text": ...}`, unsigned."""

OrganizationNamer = Callable[[str], str | None]
"""An organization's id -> the name people know it by (its slug), or None when unknown."""

_WHAT = {
    "account.inactive": "has been inactive for {inactive_days} days (rule threshold {threshold_days} days)",
    "account.reactivated": "is active again",
    "account.going_quiet": "is going quiet",
    "organization.declining": "is declining",
    "organization.recovered": "has recovered",
    "canary.test": "test notification",
}


def _organization(organization: object, namer: OrganizationNamer | None) -> str:
    if not isinstance(organization, str) or not organization:
        return ""
    return (namer(organization) if namer is not None else None) or organization


def slack_text(body: str, namer: OrganizationNamer | None = None, product: str = "Canary") -> str:
    """One line about the notification in ``body``."""
    event = json.loads(body)
    type_: str = event.get("type", "")
    data: dict[str, Any] = event.get("data") or {}
    if type_ == "canary.test":
        return f"{product}: {data.get('message', 'test notification')}"
    organization = _organization(data.get("organization"), namer)
    if type_.startswith("organization."):
        who = f"Organization {organization or data.get('account')}"
    else:
        who = str(data.get("email") or data.get("account"))
        if organization:
            who += f" ({organization})"
    what = _WHAT.get(type_, type_).format_map({k: data.get(k) for k in ("inactive_days", "threshold_days")})
    line = f"{product}: {who} {what}"
    explanation = data.get("explanation")
    if explanation:
        line += f": {explanation}"
    if data.get("rule_name"):
        line += f". Rule: {data['rule_name']}"
    return line.replace("\n", " ")


def slack_body(body: str, namer: OrganizationNamer | None = None, product: str = "Canary") -> str:
    return json.dumps({"text": slack_text(body, namer, product)})
