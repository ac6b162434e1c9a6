"""Durability end to end: ClickHouse outages and kill -9 of the ingesting process lose no acknowledged event."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from analytics import migrations
from analytics.api import Analytics
from analytics.clickhouse import ClickHouse
from tests.analytics.conftest import make_event
from tests.support.clickhouse_server import ClickHouseServer

ROOT = Path(__file__).resolve().parents[2]


def stored_ids(engine: ClickHouse) -> tuple[set[uuid.UUID], int]:
    """The distinct event ids in ClickHouse and the row count as read with FINAL."""
    ids = {row[0] for row in engine.execute(sa.select(migrations.events.c.event_id).distinct())}
    final = engine.execute("SELECT count() FROM events FINAL")
    return ids, int(final[0][0])


def wait_for(condition: object, timeout: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_accepting_continues_through_a_clickhouse_outage(tmp_path: Path) -> None:
    server = ClickHouseServer(tmp_path / "clickhouse-server")
    server.start()
    analytics: Analytics | None = None
    stop = threading.Event()
    acked: list[uuid.UUID] = []
    failures: list[BaseException] = []
    try:
        analytics = Analytics.open(
            url=server.url("canary_outage"), data_dir=tmp_path / "data", flush_interval=0.1, batch_rows=500
        )
        analytics.migrate()
        analytics.start()
        live = analytics

        def keep_accepting() -> None:
            try:
                while not stop.is_set():
                    batch = [make_event(account=f"u{len(acked) % 5}") for _ in range(20)]
                    live.accept(batch)
                    acked.extend(e.event_id for e in batch)
                    time.sleep(0.01)
            except BaseException as exc:
                failures.append(exc)

        worker = threading.Thread(target=keep_accepting)
        worker.start()
        wait_for(lambda: analytics is not None and analytics.writer.inserted_rows >= 200, 30)

        server.stop(kill=True)
        during = len(acked)
        wait_for(lambda: len(acked) >= during + 400, 30)
        assert analytics.spool.pending_rows >= 300, "the spool holds what ClickHouse cannot take"
        assert analytics.writer.failures > 0
        assert not failures

        server.start()
        time.sleep(0.5)
        stop.set()
        worker.join(30)
        assert not failures
        analytics.flush(timeout=60)
        ids, final_rows = stored_ids(analytics.clickhouse)
        assert set(acked) <= ids
        assert len(ids) == final_rows == len(acked) == len(set(acked))
        assert analytics.spool.pending_rows == 0
    finally:
        stop.set()
        if analytics is not None:
            analytics.close()
        server.stop()


def test_kill_9_while_flushing_loses_no_acknowledged_event(tmp_path: Path, server_database: str) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    acked: list[uuid.UUID] = []
    for _round in range(2):
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.analytics.ingest_worker", str(data_dir), server_database],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            target = len(acked) + 3000
            deadline = time.monotonic() + 60
            while len(acked) < target and time.monotonic() < deadline:
                line = process.stdout.readline()
                if line.startswith("ack ") and line.endswith("\n"):
                    acked.append(uuid.UUID(line[4:].strip()))
            assert len(acked) >= target, "the worker stalled"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            if process.stdout is not None:
                process.stdout.close()
        assert process.returncode == -signal.SIGKILL

    with Analytics.open(url=server_database, data_dir=data_dir) as analytics:
        analytics.flush(timeout=60)
        ids, final_rows = stored_ids(analytics.clickhouse)
    assert set(acked) <= ids
    assert len(ids) == final_rows
