"""The surface the provider uses: record its own events, accept posted ones, reach ClickHouse for queries.

Ingest never waits on ClickHouse: events are made durable in the local spool and a background writer moves
them on. Opening does not connect to a ClickHouse server, so the provider starts and keeps accepting events
while ClickHouse is down; ``migrate()`` does connect.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from analytics import alerts, migrations, provider_events, queries
from analytics.clickhouse import ClickHouse, ClickHouseError, Cluster, EmbeddedEngine, open_engine
from analytics.clickhouse.relay import Relay, socket_path
from analytics.directory import AccountDirectory, AccountRef
from analytics.ingest.body import parse_body
from analytics.ingest.errors import EventValidationError
from analytics.ingest.model import Event
from analytics.ingest.posted import Posted
from analytics.ingest.validate import parse_events
from analytics.observe import watch
from analytics.pending import PendingEvents
from analytics.spool import Spool, SpoolFull
from analytics.writer import Writer

# The provider imports analytics through this module, ``analytics.queries``, ``analytics.alerts`` and
# ``analytics.directory`` only (an import contract in pyproject.toml holds it to that).
__all__ = [
    "AccountDirectory",
    "AccountRef",
    "Analytics",
    "AnalyticsFacade",
    "ClickHouse",
    "ClickHouseError",
    "Condition",
    "Event",
    "EventRecorder",
    "EventValidationError",
    "Posted",
    "Relay",
    "SpoolFull",
    "alerts",
    "parse_body",
    "parse_events",
    "provider_events",
    "queries",
    "share_embedded",
    "watch",
]

log = logging.getLogger(__name__)


def share_embedded(engine: ClickHouse, data_dir: Path) -> Relay | None:
    """Serve an embedded ClickHouse to the other processes of ``data_dir`` (``analytics.clickhouse.relay``) until
    the returned relay is closed; None for a ClickHouse server, which every process reaches itself."""
    if not isinstance(engine, EmbeddedEngine):
        return None
    return Relay(engine, socket_path(data_dir))


@dataclass(frozen=True)
class Condition:
    """How ingest is doing, for metrics and readiness. ``writer_lag_seconds``: 0 with an empty spool, else
    the time since this process's writer last ended a drain without an error."""

    spool_rows: int
    spool_bytes: int
    spool_max_bytes: int
    spool_writable: bool
    writer_lag_seconds: float


class EventRecorder(Protocol):
    """Takes the provider's own events (``provider_events``) without making the caller wait."""

    def record_soon(self, event: Event) -> None: ...


class AnalyticsFacade(EventRecorder, Protocol):
    """What the provider uses of an opened ``Analytics``: its whole side of the seam."""

    @property
    def clickhouse(self) -> ClickHouse: ...

    def migrate(self) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...

    async def accept_posted(self, posted: Posted, organizations: list[str]) -> int: ...

    def condition(self) -> Condition: ...


class Analytics:
    def __init__(
        self,
        *,
        engine: ClickHouse,
        spool: Spool,
        retention_days: int = 400,
        flush_interval: float = 1.0,
        batch_rows: int = 50_000,
        rollup_interval: float | None = 300.0,
    ) -> None:
        self.retention_days = retention_days
        self._engine = engine
        self.spool = spool
        self.writer = Writer(
            spool,
            engine,
            batch_rows=batch_rows,
            interval=flush_interval,
            retention_days=retention_days,
            rollup_interval=rollup_interval,
        )
        self.dropped_events = 0
        self.pending = PendingEvents(self.accept, on_error=self._dropped)

    @classmethod
    def open(
        cls,
        *,
        url: str | None,
        data_dir: Path,
        retention_days: int = 400,
        spool_max_bytes: int = 512 * 1024 * 1024,
        flush_interval: float = 1.0,
        batch_rows: int = 50_000,
        rollup_interval: float | None = 300.0,
        cluster: str | None = None,
        insert_quorum: int = 0,
    ) -> Analytics:
        """Events spool under ``data_dir / "spool.sqlite3"``; ClickHouse is the server at ``url`` (a server of
        ``cluster`` when given, inserts acknowledged by ``insert_quorum`` replicas) or chDB."""
        spool = Spool(data_dir / "spool.sqlite3", spool_max_bytes)
        try:
            engine = open_engine(url, data_dir, Cluster(cluster, insert_quorum) if cluster else None)
        except BaseException:
            spool.close()
            raise
        return cls(
            engine=engine,
            spool=spool,
            retention_days=retention_days,
            flush_interval=flush_interval,
            batch_rows=batch_rows,
            rollup_interval=rollup_interval,
        )

    @property
    def clickhouse(self) -> ClickHouse:
        return self._engine

    def migrate(self) -> None:
        migrations.migrate(self._engine)

    def start(self) -> None:
        self.writer.start()

    def close(self) -> None:
        self.pending.close()
        self.writer.stop()
        self.spool.close()
        self._engine.close()

    def __enter__(self) -> Analytics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, event: Event) -> None:
        """Durably spool one of the provider's own events. Never raises: a lost event is only logged."""
        try:
            self.accept([event])
        except (SpoolFull, sqlite3.Error, OSError, RuntimeError) as exc:
            self._dropped([event], exc)

    def record_soon(self, event: Event) -> None:
        """Hand one of the provider's own events over without waiting for the spool (``analytics.pending``)."""
        try:
            self.pending.put(event)
        except RuntimeError as exc:
            self._dropped([event], exc)

    def _dropped(self, events: list[Event], exc: Exception) -> None:
        self.dropped_events += len(events)
        for event in events[:10]:
            log.warning("analytics event %s %s dropped: %s", event.name, event.event_id, exc)

    def accept(self, events: list[Event]) -> int:
        """Durably spool a validated batch (all or nothing); returns how many. Raises SpoolFull."""
        self.spool.append(events)
        self._maybe_wake()
        return len(events)

    async def accept_posted(self, posted: Posted, organizations: list[str]) -> int:
        """``accept`` for events validated by ``parse_body``, stored with the given organizations; awaits the
        commit on the event loop. Raises SpoolFull."""
        await self.spool.append_encoded_async(posted.encode(organizations), len(posted))
        self._maybe_wake()
        return len(posted)

    def _maybe_wake(self) -> None:
        if self.spool.pending_rows >= self.writer.batch_rows:
            self.writer.wake()

    def condition(self) -> Condition:
        spool = self.spool
        rows = spool.pending_rows
        return Condition(
            spool_rows=rows, spool_bytes=spool.pending_bytes, spool_max_bytes=spool.max_bytes,
            spool_writable=os.access(spool.path, os.W_OK) and os.access(spool.path.parent, os.W_OK),
            writer_lag_seconds=max(0.0, time.time() - self.writer.succeeded_at) if rows else 0.0)

    def flush(self, timeout: float = 10.0) -> None:
        """Everything recorded or accepted before this call is in ClickHouse afterwards (or TimeoutError)."""
        self.pending.drain()
        self.writer.flush(timeout)
