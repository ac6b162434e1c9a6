"""Outgoing mail, one service for the whole provider: templates (plain text and HTML, the product's name in
each), a durable queue in the accounts database, a background sender with retries, and a transport — SMTP
(``CANARY_SMTP_*``) or, without it, a development outbox of ``.eml`` files under the data directory.

``Mailer.send(template, to, context, db=None)`` is the API; ``mailer_for(settings, factory, clock)`` builds it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock
from idp.mail.compose import UnknownTemplate, compose, render, template_names
from idp.mail.mailer import Mailer
from idp.mail.transport import OutboxTransport, Sent, SmtpTransport, Transport
from idp.settings import Settings

__all__ = ["Mailer", "OutboxTransport", "Sent", "SmtpTransport", "Transport", "UnknownTemplate", "compose",
           "mailer_for", "render", "template_names", "transport_for"]


def transport_for(settings: Settings) -> Transport:
    """SMTP when ``CANARY_SMTP_HOST`` is set, else the development outbox."""
    if settings.smtp_host:
        return SmtpTransport(host=settings.smtp_host, port=settings.smtp_port,
                             username=settings.smtp_username or None, password=settings.smtp_password or None,
                             security=settings.smtp_tls, sender=settings.smtp_from)  # type: ignore[arg-type]
    return OutboxTransport(settings.outbox_dir, sender=settings.smtp_from)


def mailer_for(settings: Settings, factory: sessionmaker[Session], clock: Clock) -> Mailer:
    return Mailer(factory, transport_for(settings), clock, product=settings.product_name, base_url=settings.issuer)
