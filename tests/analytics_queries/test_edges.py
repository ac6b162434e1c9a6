"""Queries over hand-made activity at the edges: month ends and leap days, windows reaching two months
back, activity after `now`, accounts whose ids need escaping, rows of one account and month spread over
unmerged parts, and databases migrated after their events were stored (the backfill)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics import migrations, provider_events, queries, retention
from analytics.clickhouse import ClickHouse, open_engine
from analytics.directory import AccountRef, InMemoryDirectory
from analytics.ingest.model import Event
from analytics.queries import sql
from analytics.queries.days import highbit, lowbit
from tests.analytics_queries import reference
from tests.analytics_queries.conftest import Loaded, _server
from tests.analytics_queries.factory import SimEvent, Simulation, insert_rows

TODAY = date(2024, 3, 15)
NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
ODD = "odd\\sub\nwith 'quotes', commas\tand \u00e9"
CREATED = datetime(2023, 10, 1, tzinfo=UTC)


def _day(value: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC) + timedelta(hours=hour)


def _edge_simulation() -> Simulation:
    activity = {
        # Month ends and the leap day: windows of March reach back into January.
        "month-ends": ["2024-01-31", "2024-02-29", "2024-03-01"],
        # Gaps longer than 30 days: MAU intervals open and close several times.
        "gaps": ["2023-12-01", "2024-01-05", "2024-02-10", "2024-03-14"],
        # Active only after `now`: a later day, and later today.
        "future": ["2024-03-16"],
        "today-late": ["2024-03-15T13", "2024-02-20"],
        ODD: ["2024-02-01", "2024-02-02", "2024-02-03"],
        "daily": [(date(2024, 1, 1) + timedelta(days=offset)).isoformat() for offset in range(0, 75)],
        "weekly": [(date(2023, 12, 3) + timedelta(days=7 * offset)).isoformat() for offset in range(0, 15)],
        "old": ["2023-11-30"],
    }
    organizations = {
        "month-ends": ("org-a",),
        "gaps": ("org-a", "org-b"),
        "future": ("org-a",),
        "today-late": ("org-b",),
        ODD: ("org-a",),
        "daily": ("org-b",),
        "weekly": ("org-a",),
        "old": ("org-b",),
        "never": ("org-a",),
        "never-new": ("org-a",),
        "failed-only": ("org-b",),
    }
    refs = [
        AccountRef(sub, None, None, datetime(2024, 3, 1, tzinfo=UTC) if sub == "never-new" else CREATED, orgs)
        for sub, orgs in organizations.items()
    ]
    events: list[SimEvent] = []
    counter = 0

    def add(sub: str, moment: datetime, name: str, source: str, organization: str) -> None:
        nonlocal counter
        counter += 1
        events.append(
            SimEvent(
                uuid.UUID(int=counter),
                sub,
                organization,
                "web",
                name,
                moment,
                moment,
                json.dumps({"n": counter % 3}),
                source,
            )
        )

    for sub, days in activity.items():
        for index, value in enumerate(days):
            moment = _day(value[:10], int(value[11:]) if "T" in value else 10)
            org = organizations[sub][0]
            if index % 2:
                add(sub, moment, "report.viewed", "api", org)
            else:
                add(sub, moment, provider_events.SIGNIN_SUCCEEDED, "idp", org)
            add(sub, moment + timedelta(minutes=5), provider_events.SIGNIN_FAILED, "idp", org)
    add("failed-only", _day("2024-03-10"), provider_events.SIGNIN_FAILED, "idp", "org-b")
    add("", _day("2024-03-10"), "report.viewed", "api", "")
    rows = list(events)
    # Duplicates of every third event with a later received_at, inserted later (another part).
    rows += [replace(e, received_at=e.received_at + timedelta(minutes=1)) for e in events[::3]]
    return Simulation(TODAY, NOW, InMemoryDirectory(refs), events, rows)


def _insert(engine: ClickHouse, rows: list[SimEvent], batch: int) -> None:
    insert_rows(engine, rows, batch)


def _open(kind: str, factory: pytest.TempPathFactory) -> tuple[ClickHouse, str | None]:
    if kind == "chdb":
        return open_engine(None, factory.mktemp("chdb-edges")), None
    database = f"canary_queries_{uuid.uuid4().hex[:10]}"
    return _server(database), database


@pytest.fixture(scope="module", params=["chdb", pytest.param("server", marks=pytest.mark.clickhouse_server)])
def edges(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    sim = _edge_simulation()
    engine, database = _open(request.param, tmp_path_factory)
    migrations.migrate(engine)
    # Small batches: one account's rows of a month land in several unmerged parts.
    _insert(engine, sim.rows, 7)
    yield Loaded(engine, sim)
    if database is not None:
        engine.execute(f"DROP DATABASE IF EXISTS {database}")
    engine.close()


@pytest.fixture(scope="module", params=["chdb", pytest.param("server", marks=pytest.mark.clickhouse_server)])
def backfilled(
    request: pytest.FixtureRequest, simulation: Simulation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """Events stored before migrations 3 and 4 existed, then migrated."""
    engine, database = _open(request.param, tmp_path_factory)
    assert migrations.migrate(engine, until=2) == [1, 2]
    _insert(engine, simulation.rows[: len(simulation.rows) // 2], 2000)
    assert migrations.migrate(engine) == [m.version for m in migrations.MIGRATIONS if m.version > 2]
    # Events arriving after the migration go through the materialized views.
    _insert(engine, simulation.rows[len(simulation.rows) // 2 :], 2000)
    yield Loaded(engine, simulation)
    if database is not None:
        engine.execute(f"DROP DATABASE IF EXISTS {database}")
    engine.close()


def _check_everything(loaded: Loaded, organizations: list[str | None]) -> None:
    sim = loaded.sim
    engine, directory = loaded.engine, sim.directory
    for organization in organizations:
        for start, end in [
            (sim.today - timedelta(days=100), sim.today + timedelta(days=1)),
            (sim.today - timedelta(days=44), sim.today - timedelta(days=13)),
            (date(2024, 2, 29), date(2024, 3, 2)),
        ]:
            days = queries.active_users(engine, directory, start, end, organization).days
            assert [(d.dau, d.wau, d.mau) for d in days] == reference.active_users(sim, start, end, organization)
            for granularity in ("day", "week", "month"):
                result = queries.lifecycle(engine, directory, start, end, granularity, organization)
                got = [(p.period_start, p.new, p.returning, p.resurrecting, p.dormant) for p in result.periods]
                assert got == reference.lifecycle(sim, start, end, granularity, organization), granularity
        for threshold in (1, 10, 30, 60):
            found = queries.inactive_accounts(engine, directory, threshold, sim.now, organization)
            expected = reference.inactive(sim, threshold, organization)
            assert {a.sub: (a.last_seen, a.inactive_days) for a in found} == expected
            assert [a.sub for a in found] == sorted(expected, key=lambda sub: (-expected[sub][1], sub))
        if organization is not None:
            health = queries.organization_health(engine, directory, organization, sim.now)
            assert (
                health.members,
                health.active_7d,
                health.active_30d,
                health.inactive,
                health.previous_active_30d,
            ) == reference.health(sim, organization)
        start, end = sim.today - timedelta(days=75), sim.today + timedelta(days=1)
        top = queries.top_events(engine, directory, start, end, organization)
        total, expected_top = reference.top_events(sim, start, end, organization)
        assert (top.accounts, {u.name: (u.events, u.accounts) for u in top.events}) == (total, expected_top)


def test_edges(edges: Loaded) -> None:
    _check_everything(edges, [None, "org-a", "org-b"])


def test_edges_in_tiny_membership_chunks(edges: Loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "CHUNK_BYTES", 50)
    _check_everything(edges, ["org-a", "org-b"])


def test_account_summary_at_month_ends(edges: Loaded) -> None:
    sim = edges.sim
    summary = queries.account_summary(edges.engine, sim.directory, "daily", sim.now)
    assert (summary.active_days_7d, summary.active_days_30d) == (7, 30)
    summary = queries.account_summary(edges.engine, sim.directory, "month-ends", datetime(2024, 3, 1, 23, tzinfo=UTC))
    assert (summary.active_days_7d, summary.active_days_30d) == (2, 2)
    summary = queries.account_summary(edges.engine, sim.directory, "month-ends", datetime(2024, 2, 29, 9, tzinfo=UTC))
    assert (summary.active_days_7d, summary.active_days_30d) == (1, 2)
    summary = queries.account_summary(edges.engine, sim.directory, "future", sim.now)
    assert (summary.active_days_7d, summary.active_days_30d) == (0, 0)
    assert summary.last_seen is None


def test_last_activity_before(edges: Loaded) -> None:
    from analytics.queries.inactive import last_activity

    seen = last_activity(edges.engine, ["gaps", "future", ODD, "never"], TODAY, before=date(2024, 2, 10))
    assert {sub: (a.last, a.last_before) for sub, a in seen.items()} == {
        "gaps": (date(2024, 3, 14), date(2024, 2, 10)),
        ODD: (date(2024, 2, 3), date(2024, 2, 3)),
    }
    assert last_activity(edges.engine, [], TODAY) == {}


def test_backfill_fills_new_tables_for_stored_events(backfilled: Loaded) -> None:
    _check_everything(backfilled, [None, "org-acme"])
    sim = backfilled.sim
    ref = max(sim.directory.accounts(), key=lambda r: sum(e.account == r.sub for e in sim.events))
    days = reference.active_days(sim, {ref.sub}).get(ref.sub, set())
    summary = queries.account_summary(backfilled.engine, sim.directory, ref.sub, sim.now)
    assert summary.active_days_30d == sum(1 for d in days if sim.today - d < timedelta(days=30))


def test_bit_positions_are_exact(loaded: Loaded) -> None:
    values = sorted(v for v in {1, 2, 3} | {(1 << k) + d for k in range(2, 33) for d in (-1, 0, 1)} if v < 1 << 32)
    array = "[" + ", ".join(f"toUInt32({v})" for v in values) + "]"
    rows = loaded.engine.execute(f"SELECT x, {highbit('x')}, {lowbit('x')} FROM (SELECT arrayJoin({array}) AS x)")
    assert {int(x): (int(high), int(low)) for x, high, low in rows} == {
        v: (v.bit_length() - 1, (v & -v).bit_length() - 1) for v in values
    }


def test_packed_strings_round_trip(loaded: Loaded) -> None:
    values = ["plain", "", ODD, "back\\slash\\", "new\nline", "\\n", "x" * 300, "\u00e9t\u00e9", "tab\t,comma"]
    array = "[" + ", ".join(sql.quote(v) for v in values) + "]"
    rows = loaded.engine.execute(f"SELECT {sql.packed_strings(array)}, {sql.packed_numbers('[0, 7, 65535]')}")
    assert sql.unpack_strings(rows[0][0]) == values
    assert sql.unpack_numbers(rows[0][1]) == [0, 7, 65535]
    assert sql.unpack_strings("") == [] and sql.unpack_numbers("") == []


def test_member_chunks_are_sorted_and_bounded() -> None:
    subs = [f"acct-{i:05d}" for i in range(1000, 0, -1)]
    chunks = list(sql.member_chunks(subs, budget=400))
    assert [sub for chunk in chunks for sub in (chunk or [])] == sorted(subs)
    assert all(chunk and sum(len(s) + 8 for s in chunk) <= 400 for chunk in chunks)
    assert list(sql.member_chunks(None)) == [None]
    assert list(sql.member_chunks([])) == []


def test_new_tables_follow_retention(tmp_path: Path) -> None:
    engine = open_engine(None, tmp_path / "chdb")
    try:
        migrations.migrate(engine)
        moments = [datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC)]
        engine.insert_events([Event(uuid.uuid4(), "u", "o", "c", "report.viewed", t, t, {}, "api") for t in moments])
        dropped = retention.drop_expired_partitions(engine, 40, datetime(2025, 3, 15, tzinfo=UTC))
        assert sorted(dropped) == [("daily_activity", "202501"), ("events", "202501")]
        for table in ("account_activity", "usage_events"):
            rows = engine.execute(
                "SELECT DISTINCT partition_id FROM system.parts"
                f" WHERE database = currentDatabase() AND table = '{table}' AND active"
            )
            assert [row[0] for row in rows] == ["202503"]
    finally:
        engine.close()


def test_window_words_match_the_stored_windows() -> None:
    from analytics.queries.days import WINDOW_OFFSET

    assert migrations.WINDOW_DAYS_BEFORE == WINDOW_OFFSET


@pytest.mark.parametrize("kind", ["chdb", pytest.param("server", marks=pytest.mark.clickhouse_server)])
def test_lifecycle_after_retention_drops_months(kind: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Rows of `account_windows` keep days of months that retention dropped; lifecycle counts only what
    `account_activity` still holds: a first activity is the first one stored."""
    activity = {
        "edge": ["2025-01-30", "2025-02-03"],  # the week of 2025-01-27 was active, in a dropped month
        "gone": ["2025-01-31"],
        "back": ["2025-01-15", "2025-02-20"],
        "first-day": ["2025-02-01", "2025-03-05"],
        "old": ["2024-12-20", "2025-03-01", "2025-03-02"],
        "late": ["2025-03-04"],
    }
    refs = [AccountRef(sub, None, None, CREATED, ("org-a" if len(sub) % 2 else "org-b",)) for sub in activity]
    events = [
        SimEvent(uuid.uuid4(), sub, "org-a", "web", provider_events.SIGNIN_SUCCEEDED, _day(day), _day(day), "{}", "idp")
        for sub, days in activity.items()
        for day in days
    ]
    now = datetime(2025, 3, 15, 12, tzinfo=UTC)
    engine, database = _open(kind, tmp_path_factory)
    try:
        migrations.migrate(engine)
        _insert(engine, events, 3)
        dropped = retention.drop_expired_partitions(engine, 40, now)
        assert sorted(dropped) == [(t, m) for t in ("daily_activity", "events") for m in ("202412", "202501")]
        kept = [e for e in events if e.timestamp >= datetime(2025, 2, 1, tzinfo=UTC)]
        sim = Simulation(now.date(), now, InMemoryDirectory(refs), kept, kept)
        for organization in (None, "org-a"):
            for start, end in [
                (date(2025, 1, 20), date(2025, 3, 16)),
                (date(2025, 2, 1), date(2025, 3, 16)),
                (date(2025, 2, 10), date(2025, 3, 5)),
            ]:
                for granularity in ("day", "week", "month"):
                    result = queries.lifecycle(engine, sim.directory, start, end, granularity, organization)
                    got = [(p.period_start, p.new, p.returning, p.resurrecting, p.dormant) for p in result.periods]
                    assert got == reference.lifecycle(sim, start, end, granularity, organization), granularity
    finally:
        if database is not None:
            engine.execute(f"DROP DATABASE IF EXISTS {database}")
        engine.close()
