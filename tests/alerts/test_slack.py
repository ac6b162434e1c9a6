"""`slack` webhook endpoints: one readable line as `{"text": ...}`, with the retries, once-only delivery and
address guard of every webhook."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from analytics.alerts import (
    AlertConfigError,
    AlertService,
    AlertSettings,
    Delivery,
    create_rule,
    create_webhook_endpoint,
    slack_text,
    update_webhook_endpoint,
)
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver

SETTINGS = AlertSettings(backoff_seconds=(5, 30), max_attempts=4, allow_private_addresses=True)  # loopback receiver
SLUGS = {"org-a": "acme"}


def _service(database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory,
             settings: AlertSettings = SETTINGS) -> AlertService:
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True, format_="slack")
        create_rule(session, "quiet for a week", 7, "org-a", webhook_ids=[endpoint.id])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    return AlertService(database.session_factory(), activity, directory, settings, organizations=SLUGS.get)


def test_slack_endpoint_receives_one_line_once(database: AlertDatabase, receiver: Receiver,
                                               directory: InMemoryDirectory) -> None:
    receiver.statuses = [503, 200]
    with _service(database, receiver, directory) as service:
        assert service.run_once(NOW).deliveries.retrying
        assert not service.run_once(NOW + timedelta(seconds=4)).deliveries.delivered  # backoff: 5 s
        assert service.run_once(NOW + timedelta(seconds=5)).deliveries.delivered
        assert service.run_once(NOW + timedelta(hours=1)).transitions == []  # notified once
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.body == second.body
    assert first.json == {"text": "Canary: alice@example.com (acme) has been inactive for 10 days "
                                    "(rule threshold 7 days). Rule: quiet for a week"}
    assert first.headers["content-type"] == "application/json"
    assert not any(name.startswith("webhook-") for name in first.headers)
    with database.session_factory()() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.attempts) == ("delivered", 2)
        assert json.loads(delivery.payload)["type"] == "account.inactive"  # stored as every endpoint's


def test_slack_endpoint_keeps_the_address_guard(sqlite_database: AlertDatabase, receiver: Receiver,
                                                directory: InMemoryDirectory) -> None:
    with _service(sqlite_database, receiver, directory, AlertSettings(max_attempts=1)) as service:
        report = service.run_once(NOW)
    assert report.deliveries.failed and receiver.received == []
    with sqlite_database.session_factory()() as session:
        error = session.scalars(select(Delivery.last_error)).one()
    assert error is not None and "127.0.0.1" in error


def test_format_is_checked(sqlite_database: AlertDatabase) -> None:
    with sqlite_database.session_factory()() as session:
        with pytest.raises(AlertConfigError, match="must be one of standard, slack"):
            create_webhook_endpoint(session, "https://hooks.example.com/x", format_="teams")
        endpoint = create_webhook_endpoint(session, "https://hooks.example.com/x")
        assert endpoint.format == "standard"
        assert update_webhook_endpoint(session, endpoint.id, {"format": "slack"}).format == "slack"
        with pytest.raises(AlertConfigError) as refused:
            update_webhook_endpoint(session, endpoint.id, {"format": ""})
        assert refused.value.field == "format"


def _event(type_: str, **data: object) -> str:
    return json.dumps({"type": type_, "timestamp": "2024-06-01T12:00:00Z", "data": data})


def test_text_names_people_by_email_and_organizations_by_slug() -> None:
    quiet = _event("account.going_quiet", account="u1", email="dana@example.com", organization="o1",
                   explanation="usually active every 2 days, silent for 9", rule_name="rhythm")
    assert slack_text(quiet, {"o1": "acme"}.get) == (
        "Canary: dana@example.com (acme) is going quiet: usually active every 2 days, silent for 9. Rule: rhythm")
    declining = _event("organization.declining", account="o1", organization="o1",
                       explanation="2 of 10 members active this week", rule_name="orgs")
    assert slack_text(declining, {"o1": "acme"}.get, "Acme IdP") == (
        "Acme IdP: Organization acme is declining: 2 of 10 members active this week. Rule: orgs")
    back = _event("account.reactivated", account="u2", email=None, organization=None, rule_name="all")
    assert slack_text(back) == "Canary: u2 is active again. Rule: all"
