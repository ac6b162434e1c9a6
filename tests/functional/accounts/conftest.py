"""A provider that sends its mail to a real SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL, and a
mailbox that waits for the work pages do after their answer and for the provider's background sender, and finds
the links in what arrived."""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete, or_

from idp.accounts.models import ThrottleCount
from idp.web.after_response import PENDING
from tests.functional.conftest import Provider, start_provider
from tests.support.mail import Inbox


@dataclass
class Mailbox:
    inbox: Inbox
    provider: Provider

    def messages(self, to: str) -> list[EmailMessage]:
        assert PENDING.settle(), "work accepted by an answer did not finish"  # what it mails is queued then
        self.provider.context.mail.sender.flush()
        return [cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
                for rcpts, raw in self.inbox.messages if to in rcpts]

    def last(self, to: str) -> EmailMessage:
        found = self.messages(to)
        assert found, f"no mail to {to}"
        return found[-1]

    @staticmethod
    def text(message: EmailMessage) -> str:
        part = message.get_body(("plain",))
        assert part is not None
        return str(cast(EmailMessage, part).get_content())

    def link(self, to: str, path: str) -> str:
        """The link to ``path`` in the last mail to ``to``, as a path with its query."""
        text = self.text(self.last(to))
        match = re.search(re.escape(self.provider.url) + re.escape(path) + r"\?[^\s]+", text)
        assert match, text
        return match.group(0)[len(self.provider.url):]


def smtp_server() -> tuple[Inbox, Controller, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return inbox, controller, port


@contextlib.contextmanager
def mailing_provider(database_url: str, tmp: Path, **overrides: Any) -> Iterator[tuple[Provider, Mailbox]]:
    """A provider mailing through a real SMTP server on loopback, with settings ``overrides``."""
    inbox, controller, port = smtp_server()
    try:
        prov, server = start_provider(tmp, database_url, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                                      smtp_from="id@example.com", product_name="Acme Cloud", **overrides)
        try:
            yield prov, Mailbox(inbox, prov)
        finally:
            server.stop()
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def mailing(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Mailbox]]:
    with mailing_provider(database_url, tmp_path_factory.mktemp("mailing")) as pair:
        yield pair


@pytest.fixture
def provider_m(mailing: tuple[Provider, Mailbox]) -> Iterator[Provider]:
    """The module's mailing provider, its sign-up and reset allowance for 127.0.0.1 unused: the limits' counters
    are in the session's shared database, and every test here posts from that one address."""
    provider = mailing[0]
    with provider.context.factory() as db:
        db.execute(delete(ThrottleCount).where(or_(ThrottleCount.key.startswith("signup-address:"),
                                                   ThrottleCount.key.startswith("reset-address:"))))
        db.commit()
    yield provider


@pytest.fixture
def mailbox(mailing: tuple[Provider, Mailbox]) -> Mailbox:
    return mailing[1]


@pytest.fixture
def browser(provider_m: Provider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=provider_m.url, follow_redirects=False, timeout=30) as client:
        yield client


def unique_email(prefix: str = "u") -> str:
    return f"{prefix}-{secrets.token_hex(5)}@example.com"


@pytest.fixture
def new_email() -> str:
    return unique_email()
