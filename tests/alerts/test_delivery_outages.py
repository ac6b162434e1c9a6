"""Alert delivery over real HTTP to a webhook receiver on 127.0.0.1: a short outage only delays the queued
notifications, disabling an endpoint holds its notifications until it is enabled again, endpoint secrets stay
out of the logs, and e-mail digests send whatever their rule is named."""

from __future__ import annotations

import logging
from datetime import timedelta
from email import message_from_bytes

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from analytics.alerts import (
    AlertRule,
    AlertService,
    AlertSettings,
    Delivery,
    WebhookEndpoint,
    create_rule,
    create_webhook_endpoint,
    update_rule,
)
from analytics.alerts.endpoints import enable_webhook_endpoint
from analytics.directory import InMemoryDirectory
from idp.mail import SmtpTransport
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver, account
from tests.support.mail import Inbox

MEMBERS = [f"m{i}" for i in range(9)]


def _quiet_members(database: AlertDatabase, url: str, **rule: object) -> tuple[InMemoryDirectory, FakeActivity]:
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id], **rule)  # type: ignore[arg-type]
        session.commit()
    people = InMemoryDirectory([account(sub, 100) for sub in MEMBERS])
    return people, FakeActivity({sub: TODAY - timedelta(days=10) for sub in MEMBERS})


def _endpoint(database: AlertDatabase) -> tuple[WebhookEndpoint, list[Delivery]]:
    with database.session_factory()() as session:
        return (session.scalars(select(WebhookEndpoint)).one(),
                list(session.scalars(select(Delivery).order_by(Delivery.id))))


def test_a_short_outage_with_many_notifications_queued_only_delays_them(
    sqlite_database: AlertDatabase, receiver: Receiver
) -> None:
    # One failed round: more notifications failing once each than `disable_after_failures`.
    receiver.statuses = [500] * len(MEMBERS) + [204]
    settings = AlertSettings(allow_private_addresses=True)  # defaults: 8 attempts, disabled after 8 failures
    assert len(MEMBERS) > settings.disable_after_failures
    people, activity = _quiet_members(sqlite_database, receiver.url)
    with AlertService(sqlite_database.session_factory(), activity, people, settings) as service:
        first = service.run_once(NOW)
        assert len(first.deliveries.retrying) == len(MEMBERS) and first.deliveries.failed == []
        endpoint, deliveries = _endpoint(sqlite_database)
        assert endpoint.disabled_at is None and endpoint.failure_count == len(MEMBERS)
        again = service.run_once(NOW + timedelta(seconds=5))
        assert len(again.deliveries.delivered) == len(MEMBERS)
        assert service.run_once(NOW + timedelta(hours=8)).deliveries.delivered == []
    endpoint, deliveries = _endpoint(sqlite_database)
    assert endpoint.disabled_at is None and endpoint.failure_count == 0
    assert {(d.status, d.attempts) for d in deliveries} == {("delivered", 2)}
    assert len(receiver.received) == 2 * len(MEMBERS)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == len(MEMBERS)


def test_an_endpoint_failing_through_a_notifications_attempts_is_still_disabled(
    sqlite_database: AlertDatabase, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    settings = AlertSettings(backoff_seconds=(5,), max_attempts=3, disable_after_failures=3,
                             allow_private_addresses=True)
    people, activity = _quiet_members(sqlite_database, receiver.url)
    with AlertService(sqlite_database.session_factory(), activity, people, settings) as service:
        for step in range(2):
            report = service.run_once(NOW + timedelta(seconds=5 * step))
            assert len(report.deliveries.retrying) == len(MEMBERS)
        endpoint, _ = _endpoint(sqlite_database)
        assert endpoint.disabled_at is None
        report = service.run_once(NOW + timedelta(seconds=10))
    endpoint, deliveries = _endpoint(sqlite_database)
    assert endpoint.disabled_at == NOW + timedelta(seconds=10)
    assert endpoint.disabled_reason is not None and "3 of one notification" in endpoint.disabled_reason
    assert {d.status for d in deliveries} == {"failed"}
    assert len(receiver.received) == 2 * len(MEMBERS) + 1  # the third round stopped at its first failure


def test_enabling_a_disabled_endpoint_sends_what_disabling_held(
    sqlite_database: AlertDatabase, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    settings = AlertSettings(backoff_seconds=(5,), max_attempts=8, disable_after_failures=2,
                             allow_private_addresses=True)
    people, activity = _quiet_members(sqlite_database, receiver.url)
    with AlertService(sqlite_database.session_factory(), activity, people, settings) as service:
        service.run_once(NOW)
        held = service.run_once(NOW + timedelta(seconds=5))
        assert len(held.deliveries.failed) == 1  # the one that disabled the endpoint; the rest held with it
        endpoint, deliveries = _endpoint(sqlite_database)
        assert endpoint.disabled_at is not None and {d.status for d in deliveries} == {"failed"}
        assert all(d.last_error and "endpoint is disabled" in d.last_error for d in deliveries)
        receiver.statuses = [204]
        assert service.run_once(NOW + timedelta(minutes=1)).deliveries.delivered == []  # still disabled

        with sqlite_database.session_factory()() as session:
            enable_webhook_endpoint(session, session.get_one(WebhookEndpoint, endpoint.id))
            session.commit()
        later = NOW + timedelta(minutes=2)
        assert len(service.run_once(later).deliveries.delivered) == len(MEMBERS)
        assert service.run_once(later + timedelta(minutes=1)).deliveries.delivered == []
    _, deliveries = _endpoint(sqlite_database)
    assert {(d.status, d.attempts, d.last_error) for d in deliveries} == {("delivered", 1, None)}
    sent = [r.headers["webhook-id"] for r in receiver.received[-len(MEMBERS):]]
    assert sorted(sent) == sorted(d.message_id for d in deliveries)


def test_webhook_urls_and_their_secrets_stay_out_of_the_logs(
    sqlite_database: AlertDatabase, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500]
    host, port = receiver.server.server_address[:2]
    url = f"http://bob:hunter2pass@{host!s}:{port}/cred-in-path?token=querysecret"
    people, activity = _quiet_members(sqlite_database, url)
    settings = AlertSettings(backoff_seconds=(5,), allow_private_addresses=True)
    with caplog.at_level(logging.DEBUG), \
            AlertService(sqlite_database.session_factory(), activity, people, settings) as service:
        assert service.run_once(NOW).deliveries.retrying
    assert receiver.received  # the requests were sent, to the full URL
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("hunter2pass", "bob", "cred-in-path", "querysecret"):
        assert secret not in logged, logged
    failures = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "failed" in r.getMessage()]
    endpoint, _ = _endpoint(sqlite_database)
    assert failures and all(f"webhook endpoint {endpoint.id} (http://{host!s}:{port})" in m for m in failures)


def _alice_quiet() -> FakeActivity:
    return FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})


def _daily_digest(database: AlertDatabase, smtp: tuple[Inbox, int]
                  ) -> tuple[Inbox, SmtpTransport, sessionmaker[Session], AlertRule]:
    """A rule mailing a daily digest to owner@example.com, and mail through the test SMTP server."""
    inbox, port = smtp
    mail = SmtpTransport(host="127.0.0.1", port=port, security="none", sender="canary@example.com")
    factory = database.session_factory()
    with factory() as session:
        rule = create_rule(session, "quiet", 7, "org-a", emails=["owner@example.com"], digest="daily",
                           clock=lambda: NOW)
        session.commit()
    return inbox, mail, factory, rule


def test_a_digest_of_a_rule_named_over_several_lines_still_sends(
    sqlite_database: AlertDatabase, directory: InMemoryDirectory, smtp: tuple[Inbox, int]
) -> None:
    inbox, mail, factory, rule = _daily_digest(sqlite_database, smtp)
    with factory() as session:  # a name stored before such names were refused
        session.execute(update(AlertRule).where(AlertRule.id == rule.id).values(name="quiet\r\nBcc: x@example.com"))
        session.commit()
    activity = _alice_quiet()
    settings = AlertSettings(product_name="Acme")
    with AlertService(factory, activity, directory, settings, mail=mail) as service:
        service.run_once(NOW)
        report = service.run_once(NOW + timedelta(days=1))
        assert len(report.deliveries.delivered) == 1 and report.deliveries.retrying == []
    [(recipients, raw)] = inbox.messages
    message = message_from_bytes(raw)
    assert recipients == ["owner@example.com"] and message["Bcc"] is None
    subject = " ".join(str(message["Subject"]).split())  # unfolded
    assert subject == "Acme: daily digest of quiet Bcc: x@example.com: 1 accounts since 2024-06-01T12:00:00Z"


def test_a_digest_flushed_after_digests_were_switched_off_names_no_period(
    sqlite_database: AlertDatabase, directory: InMemoryDirectory, smtp: tuple[Inbox, int]
) -> None:
    inbox, mail, factory, rule = _daily_digest(sqlite_database, smtp)
    activity = _alice_quiet()
    with AlertService(factory, activity, directory, AlertSettings(product_name="Acme"), mail=mail) as service:
        service.run_once(NOW)  # alice waits for the digest
        with factory() as session:
            update_rule(session, rule.id, {"digest": None})
            session.commit()
        assert len(service.run_once(NOW + timedelta(hours=1)).deliveries.delivered) == 1
    [(_, raw)] = inbox.messages
    subject = " ".join(str(message_from_bytes(raw)["Subject"]).split())
    assert subject == "Acme: digest of quiet: 1 accounts since 2024-06-01T12:00:00Z"


def test_transitions_of_going_quiet_and_organization_rules_tell_the_silence(
    sqlite_database: AlertDatabase, receiver: Receiver
) -> None:
    people = InMemoryDirectory([account(f"m{i}", 100, ("org-a",)) for i in range(4)]
                               + [account("other", 100, ("org-b",))])
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id], kind="account.going_quiet")
        create_rule(session, "orgs", 14, "org-a", webhook_ids=[endpoint.id], kind="organization.declining")
        session.commit()
    activity = FakeActivity({"m0": TODAY - timedelta(days=8), "m1": TODAY - timedelta(days=12),
                             "m2": TODAY - timedelta(days=20), "m3": TODAY - timedelta(days=27), "other": TODAY})
    settings = AlertSettings(allow_private_addresses=True)
    with AlertService(sqlite_database.session_factory(), activity, people, settings) as service:
        found = {(t.account, t.type): t.inactive_days for t in service.run_once(NOW).transitions}
    assert found == {("m0", "account.going_quiet"): 8, ("m1", "account.going_quiet"): 12,
                     ("m2", "account.going_quiet"): 20, ("m3", "account.going_quiet"): 27,
                     ("org-a", "organization.declining"): 8}
