"""The mail service: templates, the durable queue, the sender, SMTP over a real aiosmtpd server, the outbox."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.db import make_engine, make_session_factory
from idp.mail import Mailer, OutboxTransport, SmtpTransport, UnknownTemplate, mailer_for, template_names
from idp.mail.models import OutgoingMail
from idp.mail.queue import MAX_ATTEMPTS, counts
from idp.mail.sender import send_due
from idp.migrate import migrate_sql
from idp.settings import Settings
from tests.support.clock import MovableClock
from tests.support.mail import Inbox


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    settings = Settings(data_dir=tmp_path)
    migrate_sql(settings)
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(raw, policy=policy.default))


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, kind
    return str(cast(EmailMessage, part).get_content())


def test_every_template_renders_text_and_html_with_the_product_name() -> None:
    from idp.mail import render

    context = {"product": "Acme Cloud", "base_url": "https://id.example.com", "recipient": "a@example.com",
               "link": "https://id.example.com/x?token=t", "organization": "Acme", "expires": "2026-01-01",
               "minutes": 30, "hours": 48, "how": "reset", "new_email": "b@example.com"}
    assert {"invitation", "password_reset", "password_changed", "verify_email", "test"} <= set(template_names())
    for name in template_names():
        subject, text, html = render(name, context)
        assert "Acme Cloud" in subject and "Acme Cloud" in text and "Acme Cloud" in html, name
        assert "\n" not in subject
    with pytest.raises(UnknownTemplate):
        render("nope", context)


def test_queued_message_is_sent_through_smtp_as_a_complete_message(
        factory: sessionmaker[Session], smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    clock = MovableClock()
    mailer = Mailer(factory, SmtpTransport(host="127.0.0.1", port=port, security="none", sender="id@example.com"),
                    clock, product="Acme Cloud", base_url="https://id.example.com")
    with factory() as db:
        mailer.send("password_reset", "ada@example.com", {"link": "https://id.example.com/r?t=<x>", "minutes": 30},
                    db=db)
        db.rollback()  # queued in the caller's transaction: rolled back, nothing is sent
    mail_id = mailer.send("password_reset", "ada@example.com", {"link": "https://id.example.com/r?t=1", "minutes": 30})
    report = send_due(factory, mailer.transport, clock)
    assert report.sent == [mail_id]
    assert len(inbox.messages) == 1
    recipients, raw = inbox.messages[0]
    assert recipients == ["ada@example.com"]
    message = parse(raw)
    assert message["Subject"] == "Reset your Acme Cloud password"
    assert message["From"] == "Acme Cloud <id@example.com>"
    assert message["To"] == "ada@example.com"
    assert message["Date"] and message["Message-ID"].endswith("@example.com>")
    assert message.get_content_type() == "multipart/alternative"
    assert "https://id.example.com/r?t=1" in body(message, "plain")
    assert 'href="https://id.example.com/r?t=1"' in body(message, "html")
    with factory() as db:
        row = db.scalars(select(OutgoingMail)).one()
        assert row.status == "sent" and row.attempts == 1 and row.message == ""  # the link is not kept


def test_smtp_down_is_retried_with_backoff_then_fails_visibly(
        factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = MovableClock()
    mailer = Mailer(factory, SmtpTransport(host="127.0.0.1", port=port, security="none", timeout_seconds=1),
                    clock, product="Canary", base_url="http://localhost:8000")
    mailer.send("test", "ops@example.com")
    with caplog.at_level(logging.WARNING, logger="canary.mail"):
        assert send_due(factory, mailer.transport, clock).not_sent
    assert "retrying" in caplog.text
    assert send_due(factory, mailer.transport, clock).not_sent == []  # backing off
    for _ in range(MAX_ATTEMPTS):
        clock.advance(3 * 3600)
        send_due(factory, mailer.transport, clock)
    with factory() as db:
        row = db.scalars(select(OutgoingMail)).one()
        assert row.status == "failed" and row.attempts == MAX_ATTEMPTS and row.last_error
        assert counts(db)["failed"] == 1
    assert "failed for good" in caplog.text


def test_without_smtp_mail_goes_to_the_outbox_and_links_are_logged(
        tmp_path: Path, factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path, product_name="Acme Cloud")
    clock = MovableClock()
    mailer = mailer_for(settings, factory, clock)
    assert isinstance(mailer.transport, OutboxTransport)
    mailer.send("verify_email", "ada@example.com", {"link": "http://localhost:8000/email/verify?token=abc",
                                                    "hours": 48})
    with caplog.at_level(logging.INFO, logger="canary.mail"):
        assert send_due(factory, mailer.transport, clock).sent
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    message = parse(files[0].read_bytes())
    assert message["Subject"] == "Confirm your e-mail address for Acme Cloud"
    assert "link: http://localhost:8000/email/verify?token=abc" in caplog.text


def test_the_background_sender_delivers_after_commit(factory: sessionmaker[Session], smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    mailer = Mailer(factory, SmtpTransport(host="127.0.0.1", port=port, security="none"), MovableClock(),
                    product="Canary", base_url="http://localhost:8000")
    mailer.sender.start()
    try:
        with factory() as db:
            mailer.send("test", "ops@example.com", db=db)
            db.commit()
        mailer.sender.flush()
        assert [rcpts for rcpts, _ in inbox.messages] == [["ops@example.com"]]
    finally:
        mailer.sender.stop()


def test_the_demo_says_where_mail_goes_and_its_outbox_shows_a_message(tmp_path: Path) -> None:
    from idp.cli.demo import demo
    from idp.cli.serve import prepare
    from idp.clock import SYSTEM_CLOCK

    settings = Settings(data_dir=tmp_path)
    prepare(settings)
    info = demo(settings)
    assert str((tmp_path / "outbox").resolve()) in info["mail"]
    engine = make_engine(settings.database_url)
    try:
        mailer = mailer_for(settings, make_session_factory(engine), SYSTEM_CLOCK)
        assert send_due(mailer.factory, mailer.transport, SYSTEM_CLOCK).sent
    finally:
        engine.dispose()
    [eml] = (tmp_path / "outbox").glob("*.eml")
    assert parse(eml.read_bytes())["To"] == "demo@example.com"
