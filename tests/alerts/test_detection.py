from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from analytics.alerts import (
    AlertService,
    AlertSettings,
    Delivery,
    create_rule,
    create_webhook_endpoint,
    run_detection,
)
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver

LOOPBACK = AlertSettings(allow_private_addresses=True)  # the test receivers listen on loopback


def _setup(database: AlertDatabase, receiver: Receiver, organization: str | None = "org-a") -> tuple[int, str]:
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, description="owner", allow_private=True)
        rule = create_rule(session, "quiet a week", 7, organization, webhook_ids=[endpoint.id])
        session.commit()
        return rule.id, endpoint.secret


def test_inactive_and_reactivated_exactly_once_across_restarts(
    database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    rule_id, secret = _setup(database, receiver)
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY - timedelta(days=1)})

    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as service:
        report = service.run_once(NOW)
        # alice: last seen 10 days ago; carol: never active, created 30 days ago. dave is too new,
        # erin is in another organization.
        assert sorted((t.account, t.type) for t in report.transitions) == [
            ("alice", "account.inactive"),
            ("carol", "account.inactive"),
        ]
        assert len(report.deliveries.delivered) == 2
        assert service.run_once(NOW).transitions == []
        assert service.run_once(NOW + timedelta(minutes=5)).deliveries.delivered == []

    messages = {r.json["data"]["account"]: r for r in receiver.received}
    assert set(messages) == {"alice", "carol"}
    alice = messages["alice"]
    assert Webhook(secret).verify(alice.body, alice.headers)["type"] == "account.inactive"
    assert alice.headers["webhook-id"].startswith("msg_")
    assert alice.json["data"] == {
        "account": "alice",
        "email": "alice@example.com",
        "name": "Alice",
        "organization": "org-a",
        "organizations": ["org-a"],
        "last_seen": (TODAY - timedelta(days=10)).isoformat(),
        "inactive_days": 10,
        "threshold_days": 7,
        "rule_id": rule_id,
        "rule_name": "quiet a week",
    }
    assert messages["carol"].json["data"]["last_seen"] is None
    assert messages["carol"].json["data"]["inactive_days"] == 30

    # A restart: new engines, sessions and service over the same database.
    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as service:
        assert service.run_once(NOW + timedelta(hours=1)).transitions == []
        activity.last["alice"] = TODAY
        later = NOW + timedelta(hours=2)
        report = service.run_once(later)
        assert [(t.account, t.type) for t in report.transitions] == [("alice", "account.reactivated")]
        assert service.run_once(later).transitions == []
    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as service:
        assert service.run_once(NOW + timedelta(hours=3)).transitions == []

    assert len(receiver.received) == 3
    reactivated = receiver.received[-1]
    assert Webhook(secret).verify(reactivated.body, reactivated.headers)["type"] == "account.reactivated"
    assert reactivated.json["data"]["account"] == "alice"
    assert reactivated.json["data"]["inactive_days"] == 0


def test_concurrent_runners_notify_once(
    sqlite_database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    _setup(sqlite_database, receiver, organization=None)
    activity = FakeActivity({"alice": TODAY - timedelta(days=10)})
    first = run_detection(sqlite_database.session_factory(), activity, directory, NOW)
    second = run_detection(sqlite_database.session_factory(), activity, directory, NOW)
    assert sorted(t.account for t in first) == ["alice", "bob", "carol", "erin"]
    assert second == []
    with sqlite_database.session_factory()() as session:
        assert len(session.scalars(select(Delivery)).all()) == 4


def test_disabled_rules_and_unknown_organizations_are_skipped(
    sqlite_database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "off", 7, None, webhook_ids=[endpoint.id], enabled=False)
        create_rule(session, "gone", 7, "org-deleted", webhook_ids=[endpoint.id])
        session.commit()
    service = AlertService(sqlite_database.session_factory(), FakeActivity(), directory, LOOPBACK)
    with service:
        assert service.run_once(NOW).transitions == []
    assert receiver.received == []
