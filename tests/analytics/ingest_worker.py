"""Accepts and flushes events in a loop, printing each acknowledged event id; killed by test_crash.py.

python -m tests.analytics.ingest_worker DATA_DIR CLICKHOUSE_URL
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from analytics.api import Analytics, Event


def main() -> None:
    data_dir, url = Path(sys.argv[1]), sys.argv[2]
    analytics = Analytics.open(url=url, data_dir=data_dir, batch_rows=200)
    analytics.migrate()
    print("ready", flush=True)
    batch = 0
    while True:
        now = datetime.now(UTC).replace(microsecond=0)
        events = [
            Event(
                event_id=uuid.uuid4(),
                account=f"user-{i % 13}",
                organization="org-crash",
                client_id="worker",
                name="crash.test",
                timestamp=now,
                received_at=now,
                properties={"batch": batch, "i": i},
                source="api",
            )
            for i in range(50)
        ]
        analytics.accept(events)
        sys.stdout.write("".join(f"ack {event.event_id}\n" for event in events))
        sys.stdout.flush()
        batch += 1
        if batch % 3 == 0:
            analytics.flush(timeout=30)


if __name__ == "__main__":
    main()
