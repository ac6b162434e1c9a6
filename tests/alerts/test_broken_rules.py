"""A rule that cannot be run is logged and skipped: the other rules still notify, and what is pending is still
delivered. Broken rules are written straight into the database, around the rules service, as an old
version or a hand-made row could have left them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from analytics.alerts import (
    AlertChannel,
    AlertRule,
    AlertService,
    AlertSettings,
    Delivery,
    create_rule,
    create_webhook_endpoint,
)
from analytics.alerts import service as service_module
from analytics.directory import InMemoryDirectory, Roster
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver

LOOPBACK = AlertSettings(allow_private_addresses=True)  # the test receivers listen on loopback


class FailingOrganization(InMemoryDirectory):
    """The directory fails for one organization only."""

    def organization_exists(self, organization: str) -> bool:
        return organization == "org-boom" or super().organization_exists(organization)

    def roster(self, organization: str | None, created_before: datetime) -> Roster:
        if organization == "org-boom":
            raise RuntimeError("the directory is unreachable for org-boom")
        return super().roster(organization, created_before)


def _pending(session_rule_id: int | None, endpoint_id: int) -> Delivery:
    """A notification queued by an earlier run and not yet sent."""
    return Delivery(message_id="msg_earlier", rule_id=session_rule_id, endpoint_id=endpoint_id,
                    event_type="account.inactive", account="zed", payload='{"type":"account.inactive"}',
                    attempts=0, status="pending", next_attempt_at=NOW - timedelta(minutes=1),
                    created_at=NOW - timedelta(minutes=1))


def test_a_broken_rule_is_skipped_and_the_good_one_delivers(
    database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        overflowing = AlertRule(name="a million days", threshold_days=1_000_000, organization=None, enabled=True,
                                created_at=NOW, channels=[AlertChannel(endpoint_id=endpoint.id)])
        failing = AlertRule(name="unreachable", threshold_days=7, organization="org-boom", enabled=True,
                            created_at=NOW, channels=[AlertChannel(endpoint_id=endpoint.id)])
        session.add_all([overflowing, failing])
        session.flush()
        good = create_rule(session, "quiet a week", 7, "org-a", webhook_ids=[endpoint.id])
        session.add(_pending(None, endpoint.id))
        session.commit()
        broken_ids = {overflowing.id, failing.id}
        endpoint_id = endpoint.id
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})

    with caplog.at_level(logging.INFO, logger="analytics.alerts"), AlertService(
        database.session_factory(), activity, FailingOrganization(directory.accounts()), LOOPBACK
    ) as service:
        report = service.run_once(NOW)
        again = service.run_once(NOW + timedelta(minutes=1))

    assert {(t.rule_id, t.account) for t in report.transitions} == {(good.id, "alice")}
    assert sorted(r.json.get("data", {}).get("account", "earlier") for r in receiver.received) == ["alice", "earlier"]
    assert again.transitions == [] and again.deliveries.delivered == []
    skipped = {r.args[0]: r for r in caplog.records if r.getMessage().startswith("alert rule")}  # type: ignore[index]
    assert set(skipped) == broken_ids
    assert "threshold_days" in skipped[overflowing.id].getMessage() and skipped[overflowing.id].levelname == "WARNING"
    assert skipped[failing.id].levelname == "ERROR" and skipped[failing.id].exc_info is not None
    with database.session_factory()() as session:
        statuses = session.scalars(select(Delivery.status).where(Delivery.endpoint_id == endpoint_id)).all()
        assert sorted(statuses) == ["delivered", "delivered"]


def test_pending_notifications_go_out_when_detection_fails_as_a_whole(
    sqlite_database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        session.add(_pending(None, endpoint.id))
        session.commit()

    def unavailable(*args: object) -> list[object]:
        raise ConnectionError("the rules could not be read")

    monkeypatch.setattr(service_module, "run_detection", unavailable)
    with AlertService(sqlite_database.session_factory(), FakeActivity(), directory, LOOPBACK) as service, \
            pytest.raises(ConnectionError):
        service.run_once(NOW)
    assert [r.headers["webhook-id"] for r in receiver.received] == ["msg_earlier"]
