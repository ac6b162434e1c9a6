"""Where a composed message goes: an SMTP server (``CANARY_SMTP_*``), or, without one, a development outbox of
``.eml`` files under the data directory whose links are logged.

Both implement ``send(message) -> Sent``; ``analytics.alerts.MailTransport`` is the same shape, so the alert
e-mail channel sends through these too.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

log = logging.getLogger("canary.mail")
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class Sent:
    """The outcome of one attempt."""

    delivered: bool
    error: str | None = None
    permanent: bool = False
    """Retrying cannot help (the server refused every recipient)."""


class Transport(Protocol):
    @property
    def sender(self) -> str:
        """The address messages are sent from."""

    def send(self, message: EmailMessage) -> Sent: ...


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    security: Literal["none", "starttls", "ssl"] = "starttls"
    sender: str = "canary@localhost"
    timeout_seconds: float = 10.0

    def send(self, message: EmailMessage) -> Sent:
        try:
            smtp: smtplib.SMTP
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_seconds,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            return Sent(False, f"recipient refused: {sorted(error.recipients)}"[:500], permanent=True)
        except (smtplib.SMTPException, OSError) as error:
            return Sent(False, f"{type(error).__name__}: {error}"[:500])
        return Sent(True)


@dataclass(frozen=True)
class OutboxTransport:
    """Development mail: each message becomes ``DIRECTORY/<date>-<id>.eml``, and its links are logged."""

    directory: Path
    sender: str = "canary@localhost"

    def send(self, message: EmailMessage) -> Sent:
        name = (message["Message-ID"] or "message").strip("<>").partition("@")[0]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{name}.eml"
            path.write_bytes(bytes(message))
        except OSError as error:
            return Sent(False, f"{type(error).__name__}: {error}"[:500])
        body = message.get_body(("plain",))
        links = _LINK.findall(body.get_content() if body is not None else "")
        log.info("mail to %s (%s) written to %s%s", message["To"], message["Subject"], path,
                 "".join(f"\n  link: {link}" for link in links))
        return Sent(True)
