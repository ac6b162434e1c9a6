"""E-mail digests: a `daily` rule e-mails each recipient one message per day listing its transitions, while its
webhooks stay immediate; the period survives restarts and closes once."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.message import Message

import pytest
from sqlalchemy import select

from analytics.alerts import (
    AlertConfigError,
    AlertRule,
    AlertService,
    AlertSettings,
    DigestItem,
    create_rule,
    create_webhook_endpoint,
    enqueue_digests,
    rule_dict,
    update_rule,
)
from analytics.directory import InMemoryDirectory
from idp.mail import SmtpTransport
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver
from tests.support.mail import Inbox

SETTINGS = AlertSettings(product_name="Acme", allow_private_addresses=True)  # the receiver listens on loopback


def _text(raw: bytes) -> tuple[Message, str]:
    message = message_from_bytes(raw)
    plain = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    payload = plain.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return message, payload.decode()


def test_daily_digest_lists_the_days_transitions_once(database: AlertDatabase, directory: InMemoryDirectory,
                                                      receiver: Receiver, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    mail = SmtpTransport(host="127.0.0.1", port=port, security="none", sender="canary@example.com")
    factory = database.session_factory()
    with factory() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id], emails=["owner@example.com",
                    "cs@example.com"], digest="daily", clock=lambda: NOW)
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})

    with AlertService(factory, activity, directory, SETTINGS, mail=mail) as service:
        assert len(service.run_once(NOW).deliveries.delivered) == 1  # the webhook, at once
        activity.last["bob"] = TODAY - timedelta(days=8)  # 9 days by the next run, the next day
        assert len(service.run_once(NOW + timedelta(hours=12)).deliveries.delivered) == 1
    assert len(receiver.received) == 2 and inbox.messages == []
    with factory() as session:
        assert sorted(session.scalars(select(DigestItem.account))) == ["alice", "bob"]

    # A restart keeps the period: nothing before it ends, one digest per recipient when it does.
    with AlertService(factory, activity, directory, SETTINGS, mail=mail) as service:
        assert service.run_once(NOW + timedelta(hours=23, minutes=59)).deliveries.delivered == []
        assert len(service.run_once(NOW + timedelta(days=1)).deliveries.delivered) == 2
        assert service.run_once(NOW + timedelta(days=1, minutes=1)).deliveries.delivered == []
        assert service.run_once(NOW + timedelta(days=2)).deliveries.delivered == []  # a quiet day: no mail
    assert sorted(rcpt for rcpts, _ in inbox.messages for rcpt in rcpts) == ["cs@example.com", "owner@example.com"]
    message, text = _text(inbox.messages[0][1])
    assert message["Subject"] == "Acme: daily digest of quiet: 2 accounts since 2024-06-01T12:00:00Z"
    assert "- alice@example.com — inactive for 10 days (2024-06-01T12:00:00Z)" in text
    assert "- bob@example.com — inactive for 9 days (2024-06-02T00:00:00Z)" in text
    with factory() as session:
        assert session.scalars(select(DigestItem)).all() == []
        rule = session.scalars(select(AlertRule)).one()
        assert rule.digest_sent_at == NOW + timedelta(days=2)


def test_a_period_closes_once(sqlite_database: AlertDatabase) -> None:
    factory = sqlite_database.session_factory()
    with factory() as session:
        rule = create_rule(session, "weekly", 7, emails=["owner@example.com"], digest="weekly", clock=lambda: NOW)
        session.add(DigestItem(rule_id=rule.id, event_type="account.inactive", account="alice",
                               payload='{"type":"account.inactive","data":{"account":"alice"}}', created_at=NOW))
        session.commit()
    assert enqueue_digests(factory, NOW + timedelta(days=6)) == 0
    assert enqueue_digests(factory, NOW + timedelta(days=7)) == 1
    assert enqueue_digests(factory, NOW + timedelta(days=7)) == 0


def test_digest_option_is_checked(sqlite_database: AlertDatabase) -> None:
    with sqlite_database.session_factory()() as session:
        with pytest.raises(AlertConfigError) as refused:
            create_rule(session, "r", 7, emails=["a@example.com"], digest="hourly")
        assert refused.value.field == "digest" and "daily or weekly" in str(refused.value)
        rule = create_rule(session, "r", 7, emails=["a@example.com"])
        assert rule_dict(rule)["digest"] is None and rule.digest_sent_at is None
        later = NOW + timedelta(hours=5)
        assert update_rule(session, rule.id, {"digest": "weekly"}, clock=lambda: later).digest_sent_at == later
        assert rule_dict(update_rule(session, rule.id, {"digest": None}))["digest"] is None
