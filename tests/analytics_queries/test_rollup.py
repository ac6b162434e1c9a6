"""Top events over rolled-up days (`analytics.rollup`, migration 7), against the independent computation.

Each step keeps the answer equal to `reference.top_events`: before any rollup (every day live), after a
rollup (the days come from `usage_daily`), after late events and duplicates of rolled-up days (those days
are dirty and counted live until rolled up again), after a second rollup. Also: the migration fills the
new tables from events stored before it, and retention drops their months.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics import migrations, queries, retention, rollup
from analytics.clickhouse import ClickHouse
from analytics.ingest.model import Event
from analytics.migrations.topology import Topology
from analytics.spool import Spool
from analytics.writer import Writer
from tests.analytics_queries import reference
from tests.analytics_queries.factory import API_NAMES, SimEvent, Simulation, insert_rows, simulate

RANGES = [(60, 1), (75, 30), (7, 0)]
"""(days before today of the start, of the end) for the ranges checked."""


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(seed=11, accounts=120, days=90)


def _check(engine: ClickHouse, sim: Simulation) -> None:
    for organization in (None, "org-acme", "org-initech"):
        for before_start, before_end in RANGES:
            start, end = sim.today - timedelta(days=before_start), sim.today + timedelta(days=1 - before_end)
            top = queries.top_events(engine, sim.directory, start, end, organization)
            total, expected = reference.top_events(sim, start, end, organization)
            got = {u.name: (u.events, u.accounts) for u in top.events}
            assert (top.accounts, got) == (total, expected), (organization, start, end)
            assert all(u.adoption == u.accounts / total for u in top.events)


def _roll(engine: ClickHouse, margin: timedelta = timedelta(0)) -> rollup.Rollup:
    """A rollup that starts in a later second than every change and every rollup so far.

    Changes are stamped by ClickHouse's own `now()` in a materialized view, in whole seconds, and the rollup
    takes its time from the same clock: no clock of ours reaches them. So this waits for the server's next
    second after the latest change or rollup (often already past), instead of a fixed second."""
    latest = max(
        engine.execute("SELECT toUInt32(max(changed_at)) FROM usage_changes")[0][0],
        engine.execute("SELECT toUInt32(max(rolled_at)) FROM usage_rollups")[0][0],
    )
    deadline = time.monotonic() + 5
    while engine.execute("SELECT toUInt32(now())")[0][0] <= latest and time.monotonic() < deadline:
        time.sleep(0.02)
    return rollup.roll_up(engine, margin=margin)


def _usage_days(events: list[SimEvent]) -> list[date]:
    return sorted({e.timestamp.date() for e in events if e.source == "api"})


def _late(sim: Simulation, days: list[date]) -> tuple[list[SimEvent], list[SimEvent]]:
    """New events on `days` (some of a new account) and repeats of stored events of those days."""
    late = []
    for index, day in enumerate(days):
        for n in range(3):
            moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=3 + n)
            account = "late-comer" if n == 0 else sim.events[index * 7 + n].account
            late.append(
                SimEvent(uuid.uuid4(), account, "org-acme", "web", API_NAMES[n], moment, moment, "{}", "api")
            )
    repeats = [
        replace(e, received_at=e.received_at + timedelta(hours=1))
        for e in sim.events
        if e.source == "api" and e.timestamp.date() in days
    ]
    return late, repeats


def test_top_events_before_and_after_rollups(engine: ClickHouse, sim: Simulation) -> None:
    migrations.migrate(engine)
    insert_rows(engine, sim.rows, 500)
    days = _usage_days(sim.events)
    window = (sim.today - timedelta(days=60), sim.today + timedelta(days=1))
    in_window = [d for d in days if window[0] <= d < window[1]]

    # (a) No rollup: every day is counted live.
    assert rollup.clean_days(engine, *window) == []
    assert rollup.dirty_days(engine) == days
    _check(engine, sim)

    # (b) After a rollup: the days come from usage_daily.
    rolled = _roll(engine)
    assert rolled.days == days
    assert rollup.dirty_days(engine) == []
    assert rollup.clean_days(engine, *window) == in_window
    _check(engine, sim)

    # (c) Late events and repeats of already counted events on two rolled-up days: those days are dirty
    # (counted live) until rolled up again, the repeats count once, the other days stay clean.
    touched = [in_window[-3], in_window[5]]
    late, repeats = _late(sim, touched)
    insert_rows(engine, late + repeats, 50)
    insert_rows(engine, repeats[:10], 50)  # and once more
    sim = replace(sim, events=sim.events + late, rows=sim.rows + late + repeats + repeats[:10])
    assert rollup.dirty_days(engine) == sorted(touched)
    assert rollup.clean_days(engine, *window) == [d for d in in_window if d not in touched]
    _check(engine, sim)

    # A rollup with the safety margin leaves days changed within it dirty: nothing changes for readers.
    margin = _roll(engine, rollup.MARGIN)
    assert margin.days == sorted(touched)
    assert rollup.dirty_days(engine) == sorted(touched)
    assert rollup.clean_days(engine, *window) == [d for d in in_window if d not in touched]
    _check(engine, sim)

    # (d) A second rollup: every day clean again, and still exact.
    assert _roll(engine).days == sorted(touched)
    assert rollup.clean_days(engine, *window) == in_window
    _check(engine, sim)
    assert _roll(engine).days == []


def test_clean_days_are_read_from_the_newest_stored_counts(engine: ClickHouse, sim: Simulation) -> None:
    """Readers take a clean day's counts from usage_daily, the newest row of each key."""
    migrations.migrate(engine)
    insert_rows(engine, sim.rows, 2000)
    _roll(engine)
    day = max(e.timestamp.date() for e in sim.events if e.source == "api" and e.organization == "org-acme")
    name = next(e.name for e in sim.events if e.timestamp.date() == day and e.organization == "org-acme")
    start, end = day, day + timedelta(days=1)
    before = {u.name: u.events for u in queries.top_events(engine, sim.directory, start, end).events}
    engine.execute(
        "INSERT INTO usage_daily (day, organization, name, events, version)"
        f" SELECT toDate('{day.isoformat()}'), 'org-acme', '{name}', 1000, toDateTime('2100-01-01 00:00:00', 'UTC')"
    )
    after = {u.name: u.events for u in queries.top_events(engine, sim.directory, start, end).events}
    stored = sum(1 for e in sim.events if e.timestamp.date() == day and e.source == "api"
                 and e.organization == "org-acme" and e.name == name)
    assert after == {**before, name: before[name] - stored + 1000}


def test_migration_fills_the_usage_tables_from_stored_events(engine: ClickHouse, sim: Simulation) -> None:
    migrations.migrate(engine, until=6)
    half = len(sim.rows) // 2
    insert_rows(engine, sim.rows[:half], 2000)
    assert migrations.migrate(engine) == [7]
    # Every day already stored is to be rolled up; the accounts are there without any rollup.
    assert rollup.dirty_days(engine) == _usage_days([e for e in sim.rows[:half]])
    insert_rows(engine, sim.rows[half:], 2000)
    _check(engine, sim)
    _roll(engine)
    assert rollup.dirty_days(engine) == []
    _check(engine, sim)


def test_retention_drops_the_months_of_the_usage_tables(engine: ClickHouse) -> None:
    migrations.migrate(engine)
    moments = [datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC)]
    engine.insert_events([Event(uuid.uuid4(), "u", "o", "c", "report.viewed", t, t, {}, "api") for t in moments])
    _roll(engine)
    tables = ("usage_changes", "usage_daily", "usage_rollups", "usage_accounts")

    def partitions() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for table in tables:
            # On a cluster: the partitions of the table's local tables on every shard.
            rows = engine.execute(Topology.of(engine).partitions(table))
            found[table] = sorted(str(row[0]) for row in rows)
        return found

    assert partitions() == {table: ["202501", "202503"] for table in tables}
    retention.drop_expired_partitions(engine, 40, datetime(2025, 3, 15, tzinfo=UTC))
    assert partitions() == {table: ["202503"] for table in tables}
    assert rollup.dirty_days(engine) == []
    assert rollup.clean_days(engine, date(2025, 1, 1), date(2025, 4, 1)) == [date(2025, 3, 10)]


def test_the_writer_rolls_up(engine: ClickHouse, tmp_path: Path) -> None:
    migrations.migrate(engine)
    moment = datetime(2025, 3, 10, tzinfo=UTC)
    with Spool(tmp_path / "spool", 1 << 30) as spool:
        writer = Writer(spool, engine, interval=0.05, rollup_interval=0.1)
        spool.append([Event(uuid.uuid4(), "u", "o", "c", "report.viewed", moment, moment, {}, "api")])
        writer.start()
        deadline = time.monotonic() + 20
        while not engine.execute("SELECT count() FROM usage_rollups")[0][0] and time.monotonic() < deadline:
            time.sleep(0.05)
        writer.stop()
    # Rolled up, but still dirty: the change is within the writer's safety margin.
    assert engine.execute("SELECT toString(day), events FROM usage_daily") == [("2025-03-10", 1)]
    assert rollup.dirty_days(engine) == [date(2025, 3, 10)]


def test_an_event_with_copies_on_two_days_counts_once(engine: ClickHouse, sim: Simulation) -> None:
    """A retry that lands on the next UTC day: counted once live, once its day is rolled up, and in ranges
    holding one of its days only, once there."""
    migrations.migrate(engine)
    insert_rows(engine, sim.rows, 500)
    _roll(engine)
    window = (sim.today - timedelta(days=60), sim.today + timedelta(days=1))
    middle = sim.today - timedelta(days=30)
    originals = [e for e in sim.events if e.source == "api" and e.timestamp.date() == middle][:4]
    assert len(originals) == 4
    # The copies are a day later (and one of them twice, with yet another receipt time).
    copies = [replace(e, timestamp=e.timestamp + timedelta(days=1), received_at=e.received_at + timedelta(days=1))
              for e in originals]
    copies.append(replace(copies[0], received_at=copies[0].received_at + timedelta(hours=2)))
    insert_rows(engine, copies, 50)
    sim = replace(sim, rows=sim.rows + copies)

    def counts(start: date, end: date) -> dict[str, int]:
        return {u.name: u.events for u in queries.top_events(engine, sim.directory, start, end).events}

    def expected(start: date, end: date) -> dict[str, int]:
        return {name: n for name, (n, _) in reference.top_events(sim, start, end, None)[1].items()}

    # Until the copies' day is rolled up: counted once more in a range holding both days (documented)...
    both = counts(*window)
    extra = {name: sum(1 for e in originals if e.name == name) for name in {e.name for e in originals}}
    assert both == {name: n + extra.get(name, 0) for name, n in expected(*window).items()}
    # ...and once in a range holding the copies' day only (it is live: the ids of the day, counted once).
    next_day = (middle + timedelta(days=1), middle + timedelta(days=2))
    assert counts(*next_day) == {
        name: n + extra.get(name, 0) for name, n in expected(*next_day).items()
    } | {name: extra[name] for name in extra if name not in expected(*next_day)}

    assert _roll(engine).days == [middle + timedelta(days=1)]
    stored = engine.execute("SELECT count(), uniqExact(event) FROM usage_repeats")[0]
    assert (int(stored[0]), int(stored[1])) == (8, 4)
    assert counts(*window) == expected(*window)
    assert counts(middle, middle + timedelta(days=1)) == expected(middle, middle + timedelta(days=1))
    # The copies' day alone holds each copied event once.
    assert counts(*next_day) == {
        name: n + extra.get(name, 0) for name, n in expected(*next_day).items()
    } | {name: extra[name] for name in extra if name not in expected(*next_day)}
    # Another copy on a third day, which is then live: the clean days' repeats are subtracted in full.
    third = replace(originals[1], timestamp=originals[1].timestamp + timedelta(days=2),
                    received_at=originals[1].received_at + timedelta(days=2))
    insert_rows(engine, [third], 50)
    sim = replace(sim, rows=[*sim.rows, third])
    _roll(engine)
    assert counts(*window) == expected(*window)
