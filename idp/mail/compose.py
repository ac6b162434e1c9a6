"""Composing a message from a template: a subject, a plain-text body and an HTML body, each a Jinja2 template
under ``idp/mail/templates`` (``NAME.subject``, ``NAME.txt``, ``NAME.html``), rendered with the caller's
context plus ``product`` (``CANARY_PRODUCT_NAME``). Every message is a complete RFC 5322 message: ``Date``,
``Message-ID``, ``From``, ``To``, ``Subject`` and a ``multipart/alternative`` body.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


class UnknownTemplate(LookupError):
    """No mail template has this name."""


_ENV = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                   autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                   keep_trailing_newline=True)


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.subject"))


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of one template."""
    if template not in template_names():
        raise UnknownTemplate(f"no mail template {template!r}; there are {', '.join(template_names())}")
    subject = _ENV.get_template(f"{template}.subject").render(context)
    subject = " ".join(subject.split())  # one line: a newline would split the header
    text = _ENV.get_template(f"{template}.txt").render(context)
    html = _ENV.get_template(f"{template}.html").render(context)
    return subject, text, html


def message_id(sender: str) -> str:
    domain = sender.rpartition("@")[2].strip(">") or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def compose(sender: str, recipient: str, subject: str, text: str, html: str | None, now: datetime,
            product: str = "") -> EmailMessage:
    """A complete message. ``sender`` is an address; ``product`` becomes its display name."""
    message = EmailMessage()
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(sender)
    local, _, domain = sender.partition("@")
    message["From"] = Address(display_name=product, username=local, domain=domain) if product and domain else sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
