"""Claims of deliveries between runners (workers, nodes): a runner that is still sending when its claim expires
leaves the outcome to the runner that claimed the delivery since, so a late answer never overwrites it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from analytics.alerts import AlertSettings, Delivery, WebhookEndpoint, create_webhook_endpoint
from analytics.alerts.dispatcher import DeliveryReport, deliver_due
from tests.alerts.conftest import NOW, AlertDatabase

SETTINGS = AlertSettings(webhook_timeout_seconds=5, claim_seconds=10, backoff_seconds=(5,),
                         allow_private_addresses=True)


def _pending(database: AlertDatabase) -> None:
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, "http://127.0.0.1:9/hook", allow_private=True)
        session.add(Delivery(message_id="msg_claimed", endpoint_id=endpoint.id, event_type="account.inactive",
                             account="alice", payload="{}", attempts=0, status="pending", next_attempt_at=NOW,
                             created_at=NOW))
        session.commit()


def _state(database: AlertDatabase) -> tuple[Delivery, WebhookEndpoint]:
    with database.session_factory()() as session:
        return session.scalars(select(Delivery)).one(), session.scalars(select(WebhookEndpoint)).one()


def test_a_runner_that_outlived_its_claim_leaves_the_outcome_to_the_next(database: AlertDatabase) -> None:
    _pending(database)
    later = NOW + timedelta(seconds=SETTINGS.claim_seconds + 1)
    sent: list[str] = []
    reports: dict[str, DeliveryReport] = {}

    def answer(status: int) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers["webhook-id"])
            if status == 500:  # the first runner is still waiting for this answer when its claim expires
                with httpx.Client(transport=answer(204)) as second:
                    reports["second"] = deliver_due(database.session_factory(), SETTINGS, later, second)
            return httpx.Response(status)

        return httpx.MockTransport(handle)

    with httpx.Client(transport=answer(500)) as first:
        reports["first"] = deliver_due(database.session_factory(), SETTINGS, NOW, first)

    assert sent == ["msg_claimed", "msg_claimed"]
    assert reports["second"].delivered == ["msg_claimed"]
    assert reports["first"].superseded == ["msg_claimed"] and not reports["first"].retrying
    delivery, endpoint = _state(database)
    # The late failure counts neither against the delivery nor against the endpoint.
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, None)
    assert delivery.delivered_at == later and endpoint.failure_count == 0


def test_a_claim_that_holds_records_the_outcome(database: AlertDatabase) -> None:
    _pending(database)
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(500))) as client:
        report = deliver_due(database.session_factory(), SETTINGS, NOW, client)
    assert report.retrying == ["msg_claimed"] and report.superseded == []
    delivery, endpoint = _state(database)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    assert delivery.next_attempt_at == NOW + timedelta(seconds=5) and endpoint.failure_count == 1


def test_the_claim_must_outlast_the_webhook_timeout() -> None:
    with pytest.raises(ValueError, match="claim_seconds"):
        AlertSettings(webhook_timeout_seconds=10, claim_seconds=10)
