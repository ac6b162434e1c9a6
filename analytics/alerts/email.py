"""The e-mail channel of inactivity notifications: composing one message; sending goes through a
``MailTransport`` that the host application injects.

Analytics imports nothing from the provider, so it states here what it needs of a mail service — an address
to send from and ``send(message)`` answering delivered / error / permanent — and the provider's one mail
service (``idp.mail``'s SMTP or development-outbox transport) has exactly that shape. The alert deliveries keep
their own retry state (``alert_deliveries``); the transport makes one attempt per call.
"""

from __future__ import annotations

import html
import json
import unicodedata
import uuid
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

from analytics.alerts.webhooks import Outcome

SUBJECTS = {
    "account.inactive": "{who} has been inactive for {days} days",
    "account.reactivated": "{who} is active again",
}


class MailAttempt(Protocol):
    @property
    def delivered(self) -> bool: ...

    @property
    def error(self) -> str | None: ...

    @property
    def permanent(self) -> bool: ...


class MailTransport(Protocol):
    """One attempt to hand a complete message to the mail system."""

    @property
    def sender(self) -> str: ...

    def send(self, message: EmailMessage) -> MailAttempt: ...


def _one_line(value: str) -> str:
    """``value`` fit for a header: line breaks (which a header may not hold) and other control characters
    become spaces. Rule names stored before they were refused still send."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in value)


def _headers(sender: str, recipient: str, message_id: str, subject: str, product: str,
             now: datetime | None) -> EmailMessage:
    subject, product = _one_line(subject), _one_line(product)
    message = EmailMessage()
    message["Date"] = format_datetime(now or datetime.now(UTC))
    local, _, domain = sender.partition("@")
    message["From"] = Address(display_name=product, username=local, domain=domain) if domain else sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id or uuid.uuid4().hex}@{domain or 'localhost'}>"
    message["Auto-Submitted"] = "auto-generated"
    return message


def _digest_line(item: dict[str, Any]) -> str:
    who = item.get("email") or item.get("account")
    states = {"account.inactive": f"inactive for {item.get('inactive_days')} days",
              "account.going_quiet": "going quiet", "account.reactivated": "active again",
              "organization.declining": "declining", "organization.recovered": "recovered"}
    what = states.get(item["type"], item["type"])
    explanation = f": {item['explanation']}" if item.get("explanation") else ""
    return f"{who} — {what}{explanation} ({item.get('at')})"


def compose_digest(sender: str, recipient: str, message_id: str, body: str, product: str = "Canary",
                   now: datetime | None = None) -> EmailMessage:
    """One message listing every transition of a digest (``analytics.alerts.digest``), one line each."""
    data = json.loads(body)["data"]
    items: list[dict[str, Any]] = data["items"]
    since = f" since {data['since']}" if data.get("since") else ""
    # The period the items were collected under; none when the digest was switched off since.
    period = f"{data['digest']} " if data.get("digest") else ""
    subject = f"{product}: {period}digest of {data.get('rule_name')}: {len(items)} accounts{since}"
    message = _headers(sender, recipient, message_id, subject, product, now)
    lines = [_digest_line(item) for item in items]
    message.set_content(f"Rule {data.get('rule_name')} ({data.get('rule_kind')}){since}:\n\n"
                        + "\n".join(f"- {line}" for line in lines) + f"\n\n-- {product}\n")
    rows = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    message.add_alternative(f"<!doctype html><html><body><p><strong>{html.escape(subject)}</strong></p>"
                            f"<ul>{rows}</ul></body></html>", subtype="html")
    return message


def compose(sender: str, recipient: str, message_id: str, body: str, product: str = "Canary",
            now: datetime | None = None) -> EmailMessage:
    """A complete RFC 5322 message (Date, Message-ID, From, To, Subject, plain text and HTML) about one
    notification; ``body`` is the notification's JSON, as webhooks receive it."""
    event = json.loads(body)
    if event["type"] == "alert.digest":
        return compose_digest(sender, recipient, message_id, body, product, now)
    data = event["data"]
    who = data.get("email") or data["account"]
    subject = f"{product}: " + SUBJECTS.get(event["type"], "{who}: {type}").format(
        who=who, days=data.get("inactive_days"), type=event["type"]
    )
    message = _headers(sender, recipient, message_id, subject, product, now)
    facts = [
        ("Account", data["account"]),
        ("E-mail", data.get("email") or "-"),
        ("Organization", data.get("organization") or "all"),
        ("Last seen", data.get("last_seen") or "never"),
        ("Inactive days", str(data.get("inactive_days"))),
        ("Rule", f"{data.get('rule_name')} ({data.get('threshold_days')} days)"),
    ]
    text = "\n".join(f"{label}: {value}" for label, value in facts)
    message.set_content(f"{text}\n\n{json.dumps(event, indent=2)}\n\n-- {product}\n")
    rows = "".join(f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"
                   for label, value in facts)
    message.add_alternative(f"<!doctype html><html><body><p><strong>{html.escape(product)}</strong></p>"
                            f"<table>{rows}</table></body></html>", subtype="html")
    return message


def send_email(transport: MailTransport, recipient: str, message_id: str, body: str,
               product: str = "Canary") -> Outcome:
    attempt = transport.send(compose(transport.sender, recipient, message_id, body, product))
    return Outcome(attempt.delivered, attempt.error, permanent=attempt.permanent)
