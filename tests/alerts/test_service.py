from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from analytics.alerts import AlertService, AlertSettings, create_rule, create_webhook_endpoint
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import TODAY, AlertDatabase, FakeActivity, Receiver


def test_notification_within_a_minute_of_crossing(
    sqlite_database: AlertDatabase, receiver: Receiver, directory: InMemoryDirectory
) -> None:
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url)
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id])
        session.commit()
    # alice was last active 6 days ago: she crosses 7 days at the next midnight UTC.
    activity = FakeActivity({"alice": TODAY - timedelta(days=6), "bob": TODAY, "carol": TODAY})
    lock = threading.Lock()
    clock = [datetime(2024, 6, 1, 23, 59, 50, tzinfo=UTC)]

    def now() -> datetime:
        with lock:
            return clock[0]

    service = AlertService(
        sqlite_database.session_factory(), activity, directory, AlertSettings(interval_seconds=0.1), clock=now
    )
    with service:
        service.start()
        time.sleep(0.5)
        assert receiver.received == []
        with lock:
            clock[0] = datetime(2024, 6, 2, 0, 0, 0, tzinfo=UTC)
        crossed = time.monotonic()
        while not receiver.received and time.monotonic() - crossed < 60:
            time.sleep(0.02)
        elapsed = time.monotonic() - crossed
        service.stop()
    assert [r.json["data"]["account"] for r in receiver.received] == ["alice"]
    assert elapsed < 60
