"""The background sender: a daemon thread that sends what is due, then waits for a wake-up (a message was
queued and its transaction committed) or ``interval`` seconds. ``canary serve``'s lifespan starts and stops it.
``send_due`` is one pass, for tests and for callers without the thread."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from email import message_from_string, policy

from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock
from idp.mail.models import PENDING, OutgoingMail
from idp.mail.queue import claim_due, record
from idp.mail.transport import Transport

log = logging.getLogger("canary.mail")


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    not_sent: list[int] = field(default_factory=list)


def send_due(factory: sessionmaker[Session], transport: Transport, clock: Clock) -> SendReport:
    report = SendReport()
    with factory() as db:
        claimed = claim_due(db, clock.now())
    for mail_id in claimed:
        with factory() as db:
            row = db.get(OutgoingMail, mail_id)
            if row is None or row.status != PENDING:
                continue
            message = message_from_string(row.message, policy=policy.default)
            db.commit()  # no transaction stays open while sending
            outcome = transport.send(message)
            row = db.get(OutgoingMail, mail_id)
            if row is None:
                continue
            record(row, outcome, clock.now())
            db.commit()
            (report.sent if outcome.delivered else report.not_sent).append(mail_id)
    return report


class MailSender:
    def __init__(self, factory: sessionmaker[Session], transport: Transport, clock: Clock,
                 interval: float = 5.0) -> None:
        self.factory, self.transport, self.clock, self.interval = factory, transport, clock, interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._started = 0
        self._finished = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="canary-mail", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._idle:
                self._started += 1
            try:
                send_due(self.factory, self.transport, self.clock)
            except Exception:
                log.exception("mail sender pass failed; retrying in %s s", self.interval)
            with self._idle:
                self._finished += 1
                self._idle.notify_all()
            self._wake.wait(self.interval)

    def flush(self, timeout: float = 30.0) -> None:
        """Wake the sender and wait until a pass that started after this call has finished."""
        with self._idle:
            if self._thread is None or not self._thread.is_alive():
                raise RuntimeError("the mail sender is not running")
            target = self._started + 1
            self._wake.set()
            if not self._idle.wait_for(lambda: self._finished >= target, timeout):
                raise TimeoutError(f"no mail sender pass finished within {timeout} s")

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
