"""Event counts hash the whole event id; daily_activity keeps sets of the ids' full 64-bit hashes (migration 5).

Ids crafted to share one 64-bit half are distinct events: every count sees them all. daily_activity,
first created with sets of UUIDs, is rebuilt from the stored events by migration 5 and fed by its view
afterwards, with the same counts as an independent computation.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from analytics import migrations, queries
from analytics.clickhouse import ClickHouse
from analytics.directory import AccountRef, InMemoryDirectory
from analytics.ingest.model import Event
from analytics.migrations.topology import Topology
from tests.analytics_queries.conftest import Loaded
from tests.analytics_queries.factory import Simulation

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
HALF = 1 << 64


def _daily_activity(engine: ClickHouse) -> dict[tuple[str, date, str], int]:
    rows = engine.execute(
        "SELECT organization, toUInt16(day), account, uniqExactMerge(events) FROM daily_activity"
        " GROUP BY organization, day, account"
    )
    return {(str(o), date(1970, 1, 1) + timedelta(days=int(d)), str(a)): int(n) for o, d, a, n in rows}


def _expected_daily(sim: Simulation) -> dict[tuple[str, date, str], int]:
    counts: Counter[tuple[str, date, str]] = Counter()
    for event in sim.events:
        if event.is_activity:
            counts[(event.organization, event.timestamp.date(), event.account)] += 1
    return dict(counts)


def _events_type(engine: ClickHouse) -> str:
    rows = engine.execute(
        "SELECT type FROM system.columns"
        " WHERE database = currentDatabase() AND table = 'daily_activity' AND name = 'events'"
    )
    return str(rows[0][0])


def test_daily_activity_counts_every_event_once(loaded: Loaded) -> None:
    assert _daily_activity(loaded.engine) == _expected_daily(loaded.sim)
    assert _events_type(loaded.engine) == "AggregateFunction(uniqExact, UInt64)"


def _crafted(count: int) -> list[uuid.UUID]:
    """`count` ids sharing their low 64 bits, then `count` sharing their high 64 bits."""
    shared = 0x0123_4567_89AB_CDEF
    return [uuid.UUID(int=(index + 1) * HALF + shared) for index in range(count)] + [
        uuid.UUID(int=shared * HALF + index + 1) for index in range(count)
    ]


def test_ids_sharing_a_half_are_distinct_events(engine: ClickHouse) -> None:
    migrations.migrate(engine)
    ids = _crafted(1500)
    moment = NOW - timedelta(hours=1)
    events = [Event(i, "ada", "org-a", "web", "report.viewed", moment, moment, {}, "api") for i in ids]
    for index in range(0, len(events), 1000):
        engine.insert_events(events[index : index + 1000])
    engine.insert_events(events[::7])  # delivered twice
    directory = InMemoryDirectory([AccountRef("ada", None, None, NOW - timedelta(days=90), ("org-a",))])
    summary = queries.account_summary(engine, directory, "ada", NOW)
    assert summary.events_by_name == {"report.viewed": len(ids)}
    top = queries.top_events(engine, directory, moment.date(), moment.date() + timedelta(days=1), "org-a")
    assert [(u.name, u.events, u.accounts) for u in top.events] == [("report.viewed", len(ids), 1)]
    assert _daily_activity(engine) == {("org-a", moment.date(), "ada"): len(ids)}


def test_migration_5_rebuilds_daily_activity_from_stored_events(
    engine: ClickHouse, simulation: Simulation
) -> None:
    assert migrations.migrate(engine, until=4) == [1, 2, 3, 4]
    assert _events_type(engine) == "AggregateFunction(uniqExact, UUID)"
    half = len(simulation.rows) // 2

    def insert(rows: list[Event]) -> None:
        for index in range(0, len(rows), 2000):
            engine.insert_events(rows[index : index + 2000])

    as_events = [
        Event(e.event_id, e.account, e.organization, e.client_id, e.name, e.timestamp, e.received_at, {}, e.source)  # type: ignore[arg-type]
        for e in simulation.rows
    ]
    insert(as_events[:half])
    assert migrations.migrate(engine) == [m.version for m in migrations.MIGRATIONS if m.version > 4]
    assert _events_type(engine) == "AggregateFunction(uniqExact, UInt64)"
    # Running the replacement again (an interrupted migration resumes) changes nothing.
    version_5 = next(m for m in migrations.MIGRATIONS if m.version == 5)
    for item in version_5.statements():
        for statement in Topology.of(engine).create(item):
            engine.execute(statement)
    assert version_5.backfill is not None
    version_5.backfill(engine)
    tables = {row[0] for row in engine.execute("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert "daily_activity_next" not in tables
    # Events arriving after the migration go through the new view.
    insert(as_events[half:])
    assert _daily_activity(engine) == _expected_daily(simulation)
