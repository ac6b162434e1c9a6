"""``Mailer``: the one way the provider sends mail.

``mailer.send("password_reset", "ada@example.com", {"link": url})`` renders the template, composes the
message and queues it; the background sender delivers it. Given the caller's ``db`` session, the message is
queued in the caller's transaction (sent only if that transaction commits); without one, it is queued and
committed at once. Sending never waits on the mail server.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock
from idp.mail.compose import compose, render
from idp.mail.queue import enqueue
from idp.mail.sender import MailSender
from idp.mail.transport import Transport


class Mailer:
    def __init__(self, factory: sessionmaker[Session], transport: Transport, clock: Clock, *, product: str,
                 base_url: str) -> None:
        self.factory, self.transport, self.clock = factory, transport, clock
        self.product, self.base_url = product, base_url
        self.sender = MailSender(factory, transport, clock)

    def send(self, template: str, to: str, context: dict[str, Any] | None = None,
             db: Session | None = None) -> int:
        """Queue one message from ``template`` to ``to``; returns its queue id. The templates see ``context``
        plus ``product`` (the product's name) and ``base_url`` (the issuer)."""
        values = {"product": self.product, "base_url": self.base_url, "recipient": to, **(context or {})}
        subject, text, html = render(template, values)
        now = self.clock.now()
        message = compose(self.transport.sender, to, subject, text, html, now, self.product)
        if db is not None:
            row = enqueue(db, template=template, recipient=to, subject=subject, message=bytes(message), now=now)
            event.listen(db, "after_commit", lambda _session: self.sender.wake(), once=True)
            return row.id
        with self.factory() as own:
            row = enqueue(own, template=template, recipient=to, subject=subject, message=bytes(message), now=now)
            own.commit()
            mail_id = row.id
        self.sender.wake()
        return mail_id
