"""Drains the spool into ClickHouse in the background.

Delivery is at least once: a chunk is deleted from the spool only after its insert succeeded, so a crash
between the two inserts it again on restart. ``events`` collapses rows by event_id and ``daily_activity``
counts distinct event ids, so readers see every event exactly once.

Between drains it also drops expired partitions (hourly) and rolls up the daily usage counts that top
events read (``analytics.rollup``, every ``rollup_interval`` seconds). Neither is needed for correctness
of the readers: a day not rolled up is counted live.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from analytics import observe, rollup
from analytics.clickhouse import ClickHouse
from analytics.retention import drop_expired_partitions
from analytics.spool import Spool

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


class Writer:
    def __init__(
        self,
        spool: Spool,
        engine: ClickHouse,
        *,
        batch_rows: int = 50_000,
        interval: float = 1.0,
        retention_days: int | None = None,
        retention_interval: float = 3600.0,
        rollup_interval: float | None = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spool = spool
        self.engine = engine
        self.batch_rows = batch_rows
        self.interval = interval
        self.retention_days = retention_days
        self.retention_interval = retention_interval
        self.rollup_interval = rollup_interval
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()
        self._next_retention = 0.0
        self._next_rollup = 0.0
        self.failures = 0  # consecutive failed inserts
        self.succeeded_at = time.time()  # when a drain last ended without an error
        self.inserted_rows = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after one last drain attempt."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def drain_once(self, *, wait: bool = True) -> int:
        """Insert everything spooled now (in chunks of ``batch_rows``); returns the rows inserted.

        Raises the ClickHouse error that stopped it; what was inserted before stays acknowledged. Another
        process's writer draining the same spool file is waited for, or with ``wait=False`` left to it (0).
        """
        total = 0
        with self._drain_lock, self.spool.draining(wait=wait) as mine:
            # What was spooled by now: batches appended meanwhile wait for the next drain, so a steady
            # trickle makes one insert per interval rather than one per batch (each insert costs ClickHouse
            # a part in every table the views feed, whatever its size).
            bound = self.spool.last_id() if mine else 0
            while mine:
                chunk = self.spool.read(self.batch_rows, up_to=bound)
                if chunk is None:
                    return total
                started = time.monotonic()
                self.engine.insert_encoded(chunk.data)
                self.spool.ack(chunk, time.monotonic() - started)
                total += chunk.rows
                self.inserted_rows += chunk.rows
            return total

    def flush(self, timeout: float = 10.0) -> None:
        """Drain the spool now, retrying until it is empty or ``timeout`` passes (then TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.drain_once()
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"spool not drained within {timeout} s: {exc}") from exc
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def run_retention(self) -> None:
        if self.retention_days is None:
            return
        drop_expired_partitions(self.engine, self.retention_days, self._clock())

    def _run(self) -> None:
        backoff = 0.0
        retry_at = 0.0  # after a failed insert: no attempt before this (time.monotonic())
        while True:
            stopping = self._stop.is_set()
            if stopping or time.monotonic() >= retry_at:
                try:
                    self.drain_once(wait=stopping)
                except Exception as exc:
                    self.failures += 1
                    observe.count("writer_failed_inserts")
                    backoff = min(MAX_BACKOFF_SECONDS, max(self.interval, backoff * 2 or 0.5))
                    retry_at = time.monotonic() + backoff
                    log.warning(
                        "ClickHouse insert failed (%d in a row, %d events spooled); retrying in %.1f s: %s",
                        self.failures,
                        self.spool.pending_rows,
                        backoff,
                        exc,
                    )
                else:
                    self.succeeded_at = time.time()
                    if self.failures:
                        log.warning("ClickHouse insert recovered after %d failures", self.failures)
                    self.failures = 0
                    backoff = retry_at = 0.0
                    self._maybe_run_retention()
                    self._maybe_run_rollup()
            # Every interval, ClickHouse up or down: the spool's log grows by what an interval brings at most.
            try:
                with self._drain_lock:  # the spool's reading connection is the drain's
                    self.spool.checkpoint()
            except Exception as exc:
                log.warning("spool checkpoint failed: %s", exc)
            if stopping:
                return
            self._wake.wait(min(self.interval, max(0.0, retry_at - time.monotonic())) if retry_at
                            else self.interval)
            self._wake.clear()

    def _maybe_run_retention(self) -> None:
        if self.retention_days is None or time.monotonic() < self._next_retention:
            return
        try:
            self.run_retention()
        except Exception as exc:
            log.warning("dropping expired ClickHouse partitions failed: %s", exc)
        self._next_retention = time.monotonic() + self.retention_interval

    def _maybe_run_rollup(self) -> None:
        if self.rollup_interval is None or time.monotonic() < self._next_rollup:
            return
        try:
            rollup.roll_up(self.engine)
        except Exception as exc:
            log.warning("rolling up daily usage counts failed: %s", exc)
        self._next_rollup = time.monotonic() + self.rollup_interval
