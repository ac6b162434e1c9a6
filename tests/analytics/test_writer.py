from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics import migrations
from analytics.api import Analytics
from analytics.clickhouse import ClickHouse, ClickHouseError, Rows, Statement
from analytics.ingest.encoding import decode_events
from analytics.ingest.model import Event
from analytics.spool import Spool
from analytics.writer import Writer
from tests.analytics.conftest import NOW, make_event


class RecordingEngine(ClickHouse):
    """Records inserts; fails the first ``failures`` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.inserts: list[list[Event]] = []

    def execute(self, statement: Statement) -> Rows:
        return Rows()

    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        if self.failures:
            self.failures -= 1
            raise ClickHouseError("connection refused")
        self.inserts.append(decode_events(chunks))

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


def test_writer_drains_in_batches(tmp_path: Path) -> None:
    engine = RecordingEngine()
    with Spool(tmp_path / "s", 1 << 30) as spool:
        for b in range(10):
            spool.append([make_event(name=f"b{b}.e{i}") for i in range(100)])
        writer = Writer(spool, engine, batch_rows=250, interval=60)
        assert writer.drain_once() == 1000
        assert [len(rows) for rows in engine.inserts] == [200, 200, 200, 200, 200]
        assert spool.pending_rows == 0
        assert writer.drain_once() == 0


class TricklingEngine(RecordingEngine):
    """Records inserts; each insert sees a new batch spooled meanwhile, as under a steady trickle of events."""

    def __init__(self, spool: Spool) -> None:
        super().__init__()
        self.spool = spool

    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        super().insert_encoded(chunks)
        self.spool.append([make_event(name=f"late{len(self.inserts)}")])


def test_a_drain_inserts_what_was_spooled_when_it_began(tmp_path: Path) -> None:
    """Batches spooled during a drain wait for the next one: a steady trickle makes one insert per interval,
    not one per batch."""
    with Spool(tmp_path / "s", 1 << 30) as spool:
        engine = TricklingEngine(spool)
        for b in range(3):
            spool.append([make_event(name=f"b{b}.e{i}") for i in range(100)])
        writer = Writer(spool, engine, batch_rows=250, interval=60)
        assert writer.drain_once() == 300
        assert [len(rows) for rows in engine.inserts] == [200, 100]
        assert spool.pending_rows == 2  # spooled during the two inserts
        assert writer.drain_once() == 2
        assert [e.name for e in engine.inserts[-1]] == ["late1", "late2"]
        assert spool.pending_rows == 1


def test_writer_thread_backs_off_and_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = RecordingEngine(failures=3)
    with Spool(tmp_path / "s", 1 << 30) as spool:
        writer = Writer(spool, engine, batch_rows=5000, interval=0.05)
        spool.append([make_event() for _ in range(10)])
        with caplog.at_level(logging.WARNING, logger="analytics.writer"):
            writer.start()
            deadline = time.monotonic() + 20
            while spool.pending_rows and time.monotonic() < deadline:
                time.sleep(0.05)
            writer.stop()
        assert spool.pending_rows == 0
        assert sum(len(rows) for rows in engine.inserts) == 10
        assert "ClickHouse insert failed" in caplog.text
        assert "recovered" in caplog.text


def test_flush_times_out_while_clickhouse_is_down(tmp_path: Path) -> None:
    engine = RecordingEngine(failures=10_000)
    with Spool(tmp_path / "s", 1 << 30) as spool:
        spool.append([make_event()])
        with pytest.raises(TimeoutError):
            Writer(spool, engine).flush(timeout=0.3)
        assert spool.pending_rows == 1


def count_events(engine: ClickHouse) -> tuple[int, int]:
    rows = engine.execute(sa.select(sa.func.count(), sa.func.uniqExact(migrations.events.c.event_id)))
    return int(rows[0][0]), int(rows[0][1])


def test_analytics_round_trip(clickhouse: ClickHouse, tmp_path: Path) -> None:
    analytics = Analytics(engine=clickhouse, spool=Spool(tmp_path / "spool.sqlite3", 1 << 30), batch_rows=150)
    analytics.migrate()
    analytics.migrate()
    events = [make_event(account=f"u{i % 7}") for i in range(500)]
    for start in range(0, 500, 100):
        assert analytics.accept(events[start : start + 100]) == 100
    analytics.record(Event.for_idp("signin.succeeded", "u1", organization="org-1"))
    analytics.flush(timeout=30)
    assert count_events(clickhouse) == (501, 501)
    # A retry of an acknowledged batch (at-least-once delivery) still reads as one event each.
    analytics.accept(events[:100])
    analytics.flush(timeout=30)
    assert count_events(clickhouse)[1] == 501
    analytics.writer.stop()
    analytics.spool.close()


def test_writer_drains_what_a_previous_process_left(clickhouse: ClickHouse, tmp_path: Path) -> None:
    migrations.migrate(clickhouse)
    path = tmp_path / "spool.sqlite3"
    with Spool(path, 1 << 30) as spool:
        spool.append([make_event() for _ in range(42)])
    with Spool(path, 1 << 30) as spool:
        writer = Writer(spool, clickhouse, interval=0.05)
        writer.start()
        deadline = time.monotonic() + 20
        while spool.pending_rows and time.monotonic() < deadline:
            time.sleep(0.05)
        writer.stop()
    assert count_events(clickhouse) == (42, 42)


def test_record_never_raises_when_the_spool_is_full(tmp_path: Path) -> None:
    analytics = Analytics(engine=RecordingEngine(failures=10**6), spool=Spool(tmp_path / "s", 10))
    analytics.record(Event.for_idp("signin.succeeded", "u1"))
    assert analytics.dropped_events == 1
    analytics.close()


def test_open_does_not_need_a_running_server(tmp_path: Path) -> None:
    analytics = Analytics.open(url="clickhouse+native://default@127.0.0.1:1/nowhere", data_dir=tmp_path)
    analytics.start()
    assert analytics.accept([make_event()]) == 1
    analytics.record(Event.for_idp("token.issued", ""))
    assert analytics.spool.pending_rows == 2
    assert analytics.clickhouse.ping() is False
    analytics.close()


def test_open_embedded(tmp_path: Path) -> None:
    with Analytics.open(url=None, data_dir=tmp_path, flush_interval=0.05) as analytics:
        analytics.migrate()
        analytics.start()
        analytics.accept([make_event()])
        analytics.flush()
        assert count_events(analytics.clickhouse) == (1, 1)
    assert (tmp_path / "clickhouse").is_dir()


def test_writer_runs_retention(clickhouse: ClickHouse, tmp_path: Path) -> None:
    migrations.migrate(clickhouse)
    old = datetime(2024, 1, 10, tzinfo=UTC)
    clickhouse.insert_events([make_event(timestamp=old, received_at=old), make_event()])
    with Spool(tmp_path / "s", 1 << 30) as spool:
        writer = Writer(spool, clickhouse, interval=0.05, retention_days=400, clock=lambda: NOW)
        writer.start()
        wait_until = time.monotonic() + 20
        while count_events(clickhouse)[0] != 1 and time.monotonic() < wait_until:
            time.sleep(0.05)
        writer.stop()
    assert count_events(clickhouse) == (1, 1)


def test_a_second_writer_on_the_same_file_waits_its_turn(tmp_path: Path) -> None:
    """`canary serve --workers 2`: each worker's writer drains the shared spool; a batch is inserted once."""
    engine_a, engine_b = RecordingEngine(), RecordingEngine()
    path = tmp_path / "shared.sqlite3"
    with Spool(path, 1 << 30) as a, Spool(path, 1 << 30) as b:
        for n in range(20):
            (a if n % 2 else b).append([make_event(name=f"b{n}.e{i}") for i in range(50)])
        writer_a, writer_b = Writer(a, engine_a, batch_rows=100), Writer(b, engine_b, batch_rows=100)
        with a.draining(wait=True):
            assert writer_b.drain_once(wait=False) == 0  # a's drain is under way
        assert writer_a.drain_once() + writer_b.drain_once() == 1000
    names = [e.name for rows in engine_a.inserts + engine_b.inserts for e in rows]
    assert len(names) == len(set(names)) == 1000


def test_the_spool_log_stays_small_while_clickhouse_is_up_or_down(tmp_path: Path) -> None:
    """Commits never copy the write-ahead log into the spool file: the writer does, every interval, whether its
    inserts succeed or not, and starts the log over once it is past log_restart_bytes (1 MB here). 12 MB
    appended leaves a log of a few MB at most, not 12 MB."""
    properties = {"blob": "x" * 4000}
    for failures in (0, 10_000):
        engine = RecordingEngine(failures=failures)
        path = tmp_path / f"spool-{failures}"
        with Spool(path, 1 << 30, log_restart_bytes=1 << 20) as spool:
            writer = Writer(spool, engine, batch_rows=5000, interval=0.02)
            writer.start()
            largest = 0
            for _ in range(300):
                spool.append([make_event(properties=properties) for _ in range(10)])
                largest = max(largest, Path(f"{path}-wal").stat().st_size)
            writer.stop()
        assert largest < 4_000_000, largest
        assert (sum(map(len, engine.inserts)) == 3000) is (failures == 0)
