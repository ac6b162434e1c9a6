"""A durable local buffer of accepted events, drained to ClickHouse by ``analytics.writer``.

The spool is an SQLite database in WAL mode with ``synchronous=FULL``: a commit returns only after the
write-ahead log is fsynced, so an acknowledged batch survives kill -9 and power loss. Each appended batch is
one row (all or nothing). Appends use group commit: a committer thread writes every batch queued while the
previous commit ran in one transaction, one fsync covering all of their waiters — threads blocked in
``append_encoded``, or requests awaiting ``append_encoded_async`` on the event loop without a thread.

Nothing slow sits in a commit's way: the drain forgets inserted batches a few at a time, and the log is
copied into the database file by the drain (``checkpoint``), never by a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from analytics.ingest.encoding import encode_events
from analytics.ingest.model import Event

# Batches forgotten per transaction when a chunk is acknowledged: the delete holds the one write connection,
# and a commit of new batches (requests waiting on it) waits at most for one small step.
ACK_STEP = 8


class SpoolFull(Exception):
    """The spool holds ``max_bytes`` of events not yet in ClickHouse; retry after ``retry_after_seconds``."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"event spool is full; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds

    @property
    def retry_after(self) -> int:
        return self.retry_after_seconds


@dataclass(frozen=True)
class Chunk:
    """Consecutive spooled batches, read in order for one insert."""

    first_id: int
    last_id: int
    rows: int
    size: int
    data: list[bytes]


_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class _Pending:
    __slots__ = ("data", "done", "error", "rows", "waiter")

    def __init__(self, data: bytes, rows: int, waiter: _Waiter | None) -> None:
        self.data = data
        self.rows = rows
        self.waiter = waiter
        self.done = False
        self.error: BaseException | None = None


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():  # the request may have been cancelled meanwhile; its batch is stored anyway
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL
)
"""


class Spool:
    def __init__(self, path: Path, max_bytes: int, *, gather_seconds: float = 0.002,
                 gather_batches: int = 8, log_restart_bytes: int = 64 << 20) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # The write-ahead log is started over once it has grown past this (see checkpoint()).
        self.log_restart_bytes = log_restart_bytes
        self.max_bytes = max_bytes
        # A commit of fewer than gather_batches waits up to gather_seconds for more.
        self.gather_seconds = gather_seconds
        self.gather_batches = gather_batches
        self._db = self._connect()
        # The commits never checkpoint: copying the log into the file and syncing it took tens of ms, and
        # every request waiting for that commit waited as long. The drain checkpoints instead (checkpoint()).
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.execute(_SCHEMA)
        self._reader = self._connect()
        self._page_size = int(self._reader.execute("PRAGMA page_size").fetchone()[0])
        row = self._db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0), COALESCE(SUM(rows), 0) FROM batches")
        self._bytes, self._rows = (int(value) for value in row.fetchone())
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # waiters of a commit
        self._work = threading.Condition(lock)  # the committer thread
        self._committer: threading.Thread | None = None
        self._queue: list[_Pending] = []
        self._queued_bytes = 0
        self._committing = False
        self._write_lock = threading.Lock()  # the one connection that writes
        self._drained_bytes_per_second = 0.0
        self._closed = False
        # Drains are exclusive across processes (`canary serve --workers N` share the file): two writers
        # reading the same batches would insert them twice. The OS drops the lock with a killed process.
        self._drain_fd = os.open(f"{path}.drain-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    @property
    def pending_bytes(self) -> int:
        """Bytes appended and not yet acknowledged (committed or queued for the next commit)."""
        with self._cond:
            return self._bytes + self._queued_bytes

    @property
    def pending_rows(self) -> int:
        with self._cond:
            return self._rows + sum(p.rows for p in self._queue)

    def append(self, events: Sequence[Event]) -> None:
        """Make ``events`` durable as one batch; returns once they are on disk."""
        if events:
            self.append_encoded(encode_events(events), len(events))

    def append_encoded(self, data: bytes, rows: int) -> None:
        """Make one batch of ``rows`` events, encoded as ``analytics.ingest.blocks`` describes, durable."""
        if not rows:
            return
        with self._cond:
            pending = self._enqueue(data, rows, None)
            while not pending.done:
                self._cond.wait()
        if pending.error is not None:
            raise pending.error

    async def append_encoded_async(self, data: bytes, rows: int) -> None:
        """``append_encoded`` for the event loop: waits for the commit without holding a thread."""
        if not rows:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            self._enqueue(data, rows, (loop, future))
        await future

    def _enqueue(self, data: bytes, rows: int, waiter: _Waiter | None) -> _Pending:
        """Queue a batch for the next commit (called with the condition held). Raises SpoolFull."""
        if self._closed:
            raise RuntimeError("spool is closed")
        if self._bytes + self._queued_bytes + len(data) > self.max_bytes:
            raise SpoolFull(self._retry_after(len(data)))
        pending = _Pending(data, rows, waiter)
        self._queue.append(pending)
        self._queued_bytes += len(data)
        if self._committer is None:
            self._committer = threading.Thread(target=self._commit_loop, name="spool-commit", daemon=True)
            self._committer.start()
        self._work.notify()
        return pending

    def _commit_loop(self) -> None:
        """Group commit: every batch queued while the previous commit ran goes into the next one, so one
        fsync covers all of their waiters."""
        with self._cond:
            while True:
                while not self._queue and not self._closed:
                    self._work.wait()
                if not self._queue:
                    return
                if self.gather_seconds and len(self._queue) < self.gather_batches and not self._closed:
                    # A commit costs the same for one batch as for many (its fsync most of all): waiting a
                    # moment for more spends less CPU per batch than committing each on its own.
                    self._cond.release()
                    time.sleep(self.gather_seconds)
                    self._cond.acquire()
                group, self._queue = self._queue, []
                self._committing = True
                self._cond.release()
                error: BaseException | None = None
                try:
                    self._commit(group)
                except BaseException as exc:
                    error = exc
                finally:
                    self._cond.acquire()
                size = sum(len(p.data) for p in group)
                self._queued_bytes -= size
                if error is None:
                    self._bytes += size
                    self._rows += sum(p.rows for p in group)
                loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
                for p in group:
                    p.error = error
                    p.done = True
                    if p.waiter is not None:
                        loops.setdefault(p.waiter[0], []).append(p.waiter[1])
                self._committing = False
                self._cond.notify_all()
                for loop, futures in loops.items():
                    with contextlib.suppress(RuntimeError):  # a loop that has closed has no one waiting
                        loop.call_soon_threadsafe(_settle, futures, error)

    def _commit(self, group: list[_Pending]) -> None:
        with self._write_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO batches (rows, data) VALUES (?, ?)", [(p.rows, p.data) for p in group]
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _retry_after(self, needed: int) -> int:
        rate = self._drained_bytes_per_second
        if rate <= 0:
            return 5
        return max(1, min(300, math.ceil(needed / rate) + 1))

    @contextlib.contextmanager
    def draining(self, *, wait: bool) -> Iterator[bool]:
        """Hold the spool's drain lock (shared by every process using the file) while the block runs.

        Yields False, holding nothing, when ``wait`` is false and another drain is under way.
        """
        try:
            fcntl.flock(self._drain_fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(self._drain_fd, fcntl.LOCK_UN)

    def last_id(self) -> int:
        """The id of the newest spooled batch (0 when none): a bound for `read`."""
        row = self._reader.execute("SELECT COALESCE(MAX(id), 0) FROM batches").fetchone()
        return int(row[0]) if row else 0

    def read(self, max_rows: int, up_to: int | None = None) -> Chunk | None:
        """The oldest spooled batches, up to ``max_rows`` events (at least one batch) and, when given, no
        batch after ``up_to``; None when there is none."""
        if up_to is None:
            cursor = self._reader.execute("SELECT id, rows, data FROM batches ORDER BY id")
        else:
            cursor = self._reader.execute("SELECT id, rows, data FROM batches WHERE id <= ? ORDER BY id", (up_to,))
        first_id = last_id = 0
        rows = size = 0
        data: list[bytes] = []
        try:
            for batch_id, batch_rows, blob in cursor:
                if data and rows + batch_rows > max_rows:
                    break
                if not data:
                    first_id = batch_id
                last_id = batch_id
                rows += batch_rows
                size += len(blob)
                data.append(bytes(blob))
        finally:
            cursor.close()
        if not data:
            self._refresh()
            return None
        return Chunk(first_id, last_id, rows, size, data)

    def _refresh(self) -> None:
        """Recount what is pending from the file itself.

        Several processes (``canary serve --workers N``) may share one spool file: each one's writer can drain
        batches another appended, so in-memory counters alone would drift and refuse events with a false
        SpoolFull. They are re-read whenever this process acknowledges a chunk or finds the spool empty.
        """
        row = self._reader.execute("SELECT COALESCE(SUM(LENGTH(data)), 0), COALESCE(SUM(rows), 0) FROM batches")
        stored_bytes, stored_rows = (int(value) for value in row.fetchone())
        with self._cond:
            self._bytes, self._rows = stored_bytes, stored_rows

    def ack(self, chunk: Chunk, elapsed_seconds: float | None = None) -> None:
        """Forget a chunk once ClickHouse has it.

        In steps of ACK_STEP batches, each without an fsync of its own: the next commit's fsync covers it. A
        delete lost with the power leaves batches that are inserted again, and collapse with their copies.
        """
        for first in range(chunk.first_id, chunk.last_id + 1, ACK_STEP):
            with self._write_lock:
                self._db.execute("PRAGMA synchronous=NORMAL")
                try:
                    self._db.execute("DELETE FROM batches WHERE id BETWEEN ? AND ?",
                                     (first, min(first + ACK_STEP - 1, chunk.last_id)))
                finally:
                    self._db.execute("PRAGMA synchronous=FULL")
        self._refresh()
        with self._cond:
            if elapsed_seconds:
                rate = chunk.size / max(elapsed_seconds, 1e-3)
                previous = self._drained_bytes_per_second
                self._drained_bytes_per_second = rate if previous == 0 else 0.8 * previous + 0.2 * rate

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file; start the log over once it is large.

        Called by the drain (analytics.writer) after every attempt, whether ClickHouse took the events or not.
        The copy runs while appends go on, so it rarely catches the log's end; the log starts over only after
        a copy that did, and until then it grows. Past ``log_restart_bytes``, a second copy runs with appends
        held back: it has only what came in meanwhile, but its sync of the file takes 10 to 20 ms that the
        requests waiting on commits wait too, so it is not done every time.
        """
        _busy, frames, _copied = self._reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames * (self._page_size + 24) >= self.log_restart_bytes:
            with self._write_lock:
                self._reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._work.notify()
            committer = self._committer
        if committer is not None:
            committer.join()  # it commits what is queued, then stops
        with self._write_lock:
            self._db.close()
        self._reader.close()
        with self._write_lock:  # close() may run twice (the app's shutdown, then its owner)
            if self._drain_fd >= 0:
                os.close(self._drain_fd)
                self._drain_fd = -1

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
