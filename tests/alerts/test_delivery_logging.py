"""Failed deliveries are logged at warning level, naming the notification, the target and the reason."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from analytics.alerts import AlertService, AlertSettings, create_rule, create_webhook_endpoint
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver


def test_failed_webhook_and_e_mail_deliveries_are_warnings(
    database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500]
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id], emails=["ops@example.com"])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    settings = AlertSettings(backoff_seconds=(5,), max_attempts=8, disable_after_failures=4,  # no SMTP
                             allow_private_addresses=True)  # the receiver listens on loopback
    with caplog.at_level(logging.WARNING, logger="analytics.alerts"), \
            AlertService(database.session_factory(), activity, directory, settings) as service:
        report = service.run_once(NOW)
    assert len(report.deliveries.retrying) == 2
    failures = [r for r in caplog.records if r.levelno == logging.WARNING and "failed" in r.getMessage()]
    messages = sorted(r.getMessage() for r in failures)
    assert len(messages) == 2, messages
    origin = receiver.url.removesuffix("/hooks")  # the endpoint's id and origin: a path may hold a secret
    assert any(f"webhook endpoint {endpoint.id} ({origin})" in m and "HTTP 500" in m for m in messages), messages
    assert not any("/hooks" in m for m in messages), messages
    assert any("ops@example.com" in m and "e-mail is not configured" in m for m in messages), messages
