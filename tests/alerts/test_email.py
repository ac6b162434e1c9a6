from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes

from analytics.alerts import AlertService, AlertSettings, create_rule
from analytics.directory import InMemoryDirectory
from idp.mail import SmtpTransport
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity
from tests.support.mail import Inbox


def test_one_email_per_notification_and_recipient(
    sqlite_database: AlertDatabase, directory: InMemoryDirectory, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    mail = SmtpTransport(host="127.0.0.1", port=port, security="none", sender="canary@example.com")
    settings = AlertSettings(product_name="Acme")
    with sqlite_database.session_factory()() as session:
        create_rule(session, "quiet", 7, "org-a", emails=["owner@example.com", "cs@example.com"])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    with AlertService(sqlite_database.session_factory(), activity, directory, settings, mail=mail) as service:
        report = service.run_once(NOW)
        assert len(report.deliveries.delivered) == 2
        assert service.run_once(NOW + timedelta(minutes=1)).deliveries.delivered == []
    assert sorted(rcpt for rcpts, _ in inbox.messages for rcpt in rcpts) == ["cs@example.com", "owner@example.com"]
    message = message_from_bytes(inbox.messages[0][1])
    assert message["Subject"] == "Acme: alice@example.com has been inactive for 10 days"
    assert message["From"] == "Acme <canary@example.com>"
    assert message["Date"] and message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.get_payload()
    assert text.get_content_type() == "text/plain" and "Last seen: 2024-05-22" in text.get_payload(decode=True).decode()
    assert html.get_content_type() == "text/html" and "2024-05-22" in html.get_payload(decode=True).decode()


def test_smtp_down_is_retried(sqlite_database: AlertDatabase, directory: InMemoryDirectory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mail = SmtpTransport(host="127.0.0.1", port=port, security="none", timeout_seconds=1)
    settings = AlertSettings()
    with sqlite_database.session_factory()() as session:
        create_rule(session, "quiet", 7, "org-a", emails=["owner@example.com"])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    with AlertService(sqlite_database.session_factory(), activity, directory, settings, mail=mail) as service:
        assert service.run_once(NOW).deliveries.retrying
