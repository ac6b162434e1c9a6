"""A webhook URL that cannot even be sent to is refused when stored; one already stored (written before that
check existed) fails its own deliveries for good and never holds up the others."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from analytics.alerts import (
    AlertConfigError,
    AlertService,
    AlertSettings,
    Delivery,
    WebhookEndpoint,
    create_rule,
    create_webhook_endpoint,
    send_test_notification,
    update_webhook_endpoint,
    validate_url,
)
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver

UNSENDABLE = [
    "https://example.com:abc/x",  # not a port
    "https://example.com:99999/x",  # out of range
    "https://example.com:0/x",
    "https://xn--/x",  # not Punycode
    "https://xn--a.com/x",
    "https://hooks.xn--zz.example/x",
    f"https://{'a' * 70}.com/x",  # a DNS label longer than 63
    "https://a..b/x",  # an empty label
    f"https://{'a.' * 127}com/x",  # a name longer than 253
    "https://ex\u2024ample.com/x",  # not a valid IDNA name
    "https://ex!ample.com/x",
    "https://a\ud800.com/x",  # a lone surrogate
]
SETTINGS = AlertSettings(backoff_seconds=(5,), max_attempts=8, disable_after_failures=4,
                         allow_private_addresses=True)  # the receiver listens on loopback


@pytest.mark.parametrize("url", UNSENDABLE)
def test_unsendable_urls_are_refused(sqlite_database: AlertDatabase, url: str) -> None:
    with pytest.raises(AlertConfigError) as error:
        validate_url(url)
    assert error.value.field == "url"
    str(error.value).encode()  # shown as is by the API, console and CLI
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, "https://example.com/x")
        with pytest.raises(AlertConfigError):
            update_webhook_endpoint(session, endpoint.id, {"url": url})


@pytest.mark.parametrize("url", ["https://example.com:8443/x", "https://bücher.example/x",
                                 "https://xn--bcher-kva.example/x", "https://hooks.example.com./x",
                                 "https://[2606:4700::1]/x", "https://_hooks.example.com/x", "https://93.184.215.14/x"])
def test_sendable_urls_are_accepted(url: str) -> None:
    assert validate_url(url) == url


def _store_unsendable(database: AlertDatabase, receiver: Receiver, urls: list[str]) -> None:
    """Endpoints with ``urls`` written straight to the database, then the receiver's; one rule notifies all."""
    with database.session_factory()() as session:
        ids = [create_webhook_endpoint(session, "https://example.com/x").id for _ in urls]
        for endpoint_id, url in zip(ids, urls, strict=True):
            session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(url=url))
        good = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[*ids, good.id])
        session.commit()


def test_an_unsendable_endpoint_fails_for_good_and_the_others_are_delivered(
    database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    bad = ["https://example.com:abc/x", "https://xn--/x", f"https://{'a' * 70}.example/x"]
    _store_unsendable(database, receiver, bad)
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    with AlertService(database.session_factory(), activity, directory, SETTINGS) as service:
        report = service.run_once(NOW)
    assert len(report.deliveries.delivered) == 1
    assert len(report.deliveries.failed) == len(bad)
    assert len(receiver.received) == 1
    with database.session_factory()() as session:
        deliveries = {d.endpoint_id: d for d in session.scalars(select(Delivery))}
        endpoints = {e.id: e for e in session.scalars(select(WebhookEndpoint))}
    for endpoint_id, delivery in deliveries.items():
        if endpoints[endpoint_id].url in bad:
            assert (delivery.status, delivery.attempts) == ("failed", 1)
            assert delivery.last_error is not None and delivery.last_error.startswith("cannot be sent")
            assert endpoints[endpoint_id].failure_count == 1
        else:
            assert (delivery.status, delivery.attempts) == ("delivered", 1)


class CrashingTransport(httpx.BaseTransport):
    """Raises an unexpected error for one host; answers 204 for the others."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "crash.example":
            raise RuntimeError("something nobody expected")
        return httpx.Response(204)


def test_any_error_is_a_failed_attempt_of_that_notification_only(
    sqlite_database: AlertDatabase, directory: InMemoryDirectory
) -> None:
    with sqlite_database.session_factory()() as session:
        crash = create_webhook_endpoint(session, "https://crash.example/x")
        fine = create_webhook_endpoint(session, "https://fine.example/x")
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[crash.id, fine.id])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    with AlertService(sqlite_database.session_factory(), activity, directory, SETTINGS,
                      transport=CrashingTransport()) as service:
        report = service.run_once(NOW)
    assert (len(report.deliveries.delivered), len(report.deliveries.retrying)) == (1, 1)
    with sqlite_database.session_factory()() as session:
        failed = session.scalars(select(Delivery).where(Delivery.endpoint_id == crash.id)).one()
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.last_error == "RuntimeError: something nobody expected"
    assert failed.next_attempt_at == NOW + timedelta(seconds=5)


@pytest.mark.parametrize("url", ["https://example.com:abc/x", "https://xn--/x"])
def test_a_test_notification_to_an_unsendable_url_reports_the_failure(url: str) -> None:
    endpoint = WebhookEndpoint(id=1, url=url, secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", format="standard")
    outcome = send_test_notification(endpoint, SETTINGS, NOW, transport=CrashingTransport())
    assert not outcome.delivered and outcome.permanent
