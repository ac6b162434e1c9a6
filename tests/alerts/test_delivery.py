from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from analytics.alerts import (
    AlertService,
    AlertSettings,
    Delivery,
    WebhookEndpoint,
    create_rule,
    create_webhook_endpoint,
)
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver

SETTINGS = AlertSettings(backoff_seconds=(5, 30, 120), max_attempts=8, disable_after_failures=4,
                         allow_private_addresses=True)  # the receivers listen on loopback


def _service(database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory) -> AlertService:
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    return AlertService(database.session_factory(), activity, directory, SETTINGS)


def _state(database: AlertDatabase) -> tuple[Delivery, WebhookEndpoint]:
    with database.session_factory()() as session:
        delivery = session.scalars(select(Delivery)).one()
        endpoint = session.scalars(select(WebhookEndpoint)).one()
        return delivery, endpoint


def test_failing_endpoint_is_retried_with_backoff_then_disabled(
    database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    receiver.statuses = [500]
    with _service(database, receiver, directory) as service:
        moments = [NOW, NOW + timedelta(seconds=4), NOW + timedelta(seconds=5), NOW + timedelta(seconds=34)]
        attempts = [len(service.run_once(moment).deliveries.retrying) for moment in moments]
        assert attempts == [1, 0, 1, 0]
        delivery, endpoint = _state(database)
        assert (delivery.attempts, delivery.status, endpoint.failure_count) == (2, "pending", 2)
        assert delivery.next_attempt_at == NOW + timedelta(seconds=35)
        assert delivery.last_error == "HTTP 500"

    # Retries survive a restart; the third waits 120 s (last backoff value, repeated).
    with _service_again(database, directory) as service:
        assert service.run_once(NOW + timedelta(seconds=35)).deliveries.retrying
        assert not service.run_once(NOW + timedelta(seconds=154)).deliveries.retrying
        report = service.run_once(NOW + timedelta(seconds=155))
        assert report.deliveries.failed and not report.deliveries.retrying

    delivery, endpoint = _state(database)
    assert (delivery.attempts, delivery.status) == (4, "failed")
    assert endpoint.disabled_at == NOW + timedelta(seconds=155)
    assert endpoint.disabled_reason is not None and "4 consecutive failed attempts" in endpoint.disabled_reason
    assert len(receiver.received) == 4
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1


def _service_again(database: AlertDatabase, directory: InMemoryDirectory) -> AlertService:
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    return AlertService(database.session_factory(), activity, directory, SETTINGS)


def test_gone_disables_at_once(database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory) -> None:
    receiver.statuses = [410]
    with _service(database, receiver, directory) as service:
        assert service.run_once(NOW).deliveries.failed
    delivery, endpoint = _state(database)
    assert (delivery.attempts, delivery.status) == (1, "failed")
    assert endpoint.disabled_reason == "the endpoint answered 410 Gone"
    assert len(receiver.received) == 1


def test_success_resets_the_failure_count(
    sqlite_database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    receiver.statuses = [503, 200]
    with _service(sqlite_database, receiver, directory) as service:
        service.run_once(NOW)
        assert service.run_once(NOW + timedelta(seconds=5)).deliveries.delivered
    delivery, endpoint = _state(sqlite_database)
    assert (delivery.status, delivery.attempts, endpoint.failure_count) == ("delivered", 2, 0)


def test_timeouts_are_retried(sqlite_database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory) -> None:
    receiver.delay = 2.0
    settings = AlertSettings(webhook_timeout_seconds=0.2, backoff_seconds=(5,), allow_private_addresses=True)
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    with AlertService(sqlite_database.session_factory(), activity, directory, settings) as service:
        assert service.run_once(NOW).deliveries.retrying
    delivery, _ = _state(sqlite_database)
    assert delivery.last_error is not None and "Timeout" in delivery.last_error
    assert delivery.next_attempt_at == NOW + timedelta(seconds=5)
