from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from analytics.alerts import AlertService, AlertSettings, create_rule, create_webhook_endpoint
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import TODAY, AlertDatabase, FakeActivity, Receiver


def test_notification_at_the_first_run_after_crossing(
    sqlite_database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    """The background loop runs every `interval_seconds` (under a minute by default): the first run after an
    account crosses its threshold notifies. Time moves by the injected clock; runs are asked for and awaited."""
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id])
        session.commit()
    # alice was last active 6 days ago: she crosses 7 days at the next midnight UTC.
    activity = FakeActivity({"alice": TODAY - timedelta(days=6), "bob": TODAY, "carol": TODAY})
    lock = threading.Lock()
    clock = [datetime(2024, 6, 1, 23, 59, 50, tzinfo=UTC)]

    def now() -> datetime:
        with lock:
            return clock[0]

    settings = AlertSettings(allow_private_addresses=True)  # the receiver listens on loopback
    assert settings.interval_seconds < 60
    service = AlertService(sqlite_database.session_factory(), activity, directory, settings, clock=now)
    with pytest.raises(RuntimeError):
        service.run_cycle()  # not started
    with service:
        service.start()
        service.run_cycle()
        service.run_cycle()
        assert receiver.received == []
        with lock:
            clock[0] = datetime(2024, 6, 2, 0, 0, 0, tzinfo=UTC)
        service.run_cycle()
        assert [r.json["data"]["account"] for r in receiver.received] == ["alice"]
        service.run_cycle()
        service.stop()
    assert [r.json["data"]["account"] for r in receiver.received] == ["alice"]
    assert receiver.received[0].json["timestamp"] == "2024-06-02T00:00:00Z"
