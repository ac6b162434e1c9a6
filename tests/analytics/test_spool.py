from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from analytics.ingest.encoding import decode_events, encode_events
from analytics.spool import Spool, SpoolFull
from tests.analytics.conftest import make_event


def drain_all(spool: Spool) -> list[str]:
    names: list[str] = []
    while (chunk := spool.read(1_000_000)) is not None:
        names += [e.name for e in decode_events(chunk.data)]
        spool.ack(chunk)
    return names


def test_append_read_ack_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    with Spool(path, 1 << 20) as spool:
        spool.append([make_event(name=f"e{i}") for i in range(3)])
        spool.append([make_event(name="e3")])
        assert spool.pending_rows == 4
        assert spool.pending_bytes > 0
    with Spool(path, 1 << 20) as spool:
        assert spool.pending_rows == 4
        chunk = spool.read(3)
        assert chunk is not None
        assert chunk.rows == 3  # whole batches only: the second batch would exceed 3 rows
        assert [e.name for e in decode_events(chunk.data)] == ["e0", "e1", "e2"]
        spool.ack(chunk)
        assert drain_all(spool) == ["e3"]
        assert spool.read(10) is None
        assert spool.pending_bytes == 0


def test_a_batch_larger_than_max_rows_is_read_whole(tmp_path: Path) -> None:
    with Spool(tmp_path / "s", 1 << 20) as spool:
        spool.append([make_event() for _ in range(10)])
        chunk = spool.read(3)
        assert chunk is not None and chunk.rows == 10


def test_a_failing_batch_appends_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Spool(tmp_path / "s", 1 << 20) as spool:
        spool.append([make_event(name="before")])

        real = spool._db
        monkeypatch.setattr(spool, "_db", _FailingInsert(real))
        with pytest.raises(sqlite3.OperationalError):
            spool.append([make_event(name="lost") for _ in range(5)])
        monkeypatch.setattr(spool, "_db", real)
        assert spool.pending_rows == 1
        spool.append([make_event(name="after")])
        assert drain_all(spool) == ["before", "after"]


class _FailingInsert:
    """An SQLite connection whose inserts fail after the transaction began."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        return self.db.execute(sql, *args)

    def executemany(self, sql: str, rows: object) -> sqlite3.Cursor:
        raise sqlite3.OperationalError("disk I/O error")


def test_spool_full(tmp_path: Path) -> None:
    with Spool(tmp_path / "s", 1 << 20) as probe:
        probe.append([make_event() for _ in range(10)])
        size = probe.pending_bytes
    with Spool(tmp_path / "t", size * 2 + size // 2) as spool:
        spool.append([make_event() for _ in range(10)])
        spool.append([make_event() for _ in range(10)])
        with pytest.raises(SpoolFull) as full:
            spool.append([make_event() for _ in range(10)])
        assert full.value.retry_after_seconds >= 1
        assert full.value.retry_after == full.value.retry_after_seconds
        assert spool.pending_rows == 20
        chunk = spool.read(10)
        assert chunk is not None
        spool.ack(chunk, elapsed_seconds=0.01)
        spool.append([make_event() for _ in range(10)])
        assert spool.pending_rows == 20


def test_concurrent_appends_are_all_kept(tmp_path: Path) -> None:
    threads, batches, size = 8, 25, 100
    with Spool(tmp_path / "s", 1 << 30) as spool:

        def work(t: int) -> None:
            for b in range(batches):
                spool.append([make_event(name=f"t{t}.b{b}.e{i}") for i in range(size)])

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        names = drain_all(spool)
    assert len(names) == threads * batches * size
    assert len(set(names)) == len(names)
    # Each batch stayed contiguous and in order.
    for start in range(0, len(names), size):
        prefix = names[start].rsplit(".", 1)[0]
        assert names[start : start + size] == [f"{prefix}.e{i}" for i in range(size)]


def test_two_processes_sharing_a_spool_keep_exact_counts(tmp_path: Path) -> None:
    """`canary serve --workers 2`: one worker's writer may drain what the other appended."""
    from analytics.spool import Spool

    a = Spool(tmp_path / "shared.sqlite3", max_bytes=10_000_000)
    b = Spool(tmp_path / "shared.sqlite3", max_bytes=10_000_000)
    try:
        a.append([make_event() for _ in range(10)])
        chunk = b.read(1000)
        assert chunk is not None and chunk.rows == 10
        b.ack(chunk)
        assert b.pending_rows == 0 and b.pending_bytes == 0
        assert a.read(1000) is None  # a finds nothing left and recounts
        assert a.pending_rows == 0 and a.pending_bytes == 0
    finally:
        a.close()
        b.close()


def test_one_drain_at_a_time_across_handles_of_one_file(tmp_path: Path) -> None:
    """Writers of two processes sharing a spool never read the same batches at once (no double insert)."""
    a = Spool(tmp_path / "shared.sqlite3", max_bytes=10_000_000)
    b = Spool(tmp_path / "shared.sqlite3", max_bytes=10_000_000)
    try:
        with a.draining(wait=False) as mine:
            assert mine
            with b.draining(wait=False) as theirs:
                assert not theirs
        with b.draining(wait=False) as theirs:
            assert theirs
    finally:
        a.close()
        b.close()


def test_encoded_batches_and_event_batches_read_back_alike(tmp_path: Path) -> None:
    events = [make_event(name=f"e{i}", properties={"i": i}) for i in range(3)]
    with Spool(tmp_path / "s", 1 << 20) as spool:
        spool.append(events[:1])
        spool.append_encoded(encode_events(events[1:]), 2)
        chunk = spool.read(100)
        assert chunk is not None and chunk.rows == 3
        assert decode_events(chunk.data) == events


def test_close_twice(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", 1 << 20)
    spool.append([make_event()])
    spool.close()
    spool.close()
    with pytest.raises(RuntimeError):
        spool.append([make_event()])
