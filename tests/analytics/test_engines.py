from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics import migrations
from analytics.clickhouse import ClickHouse, ClickHouseError, ServerEngine
from analytics.clickhouse.sql import literal, render
from analytics.ingest.encoding import encode_events
from tests.analytics.conftest import NOW, make_event, open_clickhouse

TRICKY = [
    "",
    "plain",
    "it's",
    "back\\slash",
    "trailing\\",
    "\\'",
    "line\nbreak\r\n",
    "tab\tnul\0bell\a",
    '"double"',
    "ünïcödé ✓ 😀 \u2028 \u0085",
    "'; DROP TABLE events; --",
    "%s %(x)s %% {0}",
    "x" * 10_000,
]


@pytest.fixture(params=["chdb", "server"])
def clickhouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    """The two kinds of engine. On a cluster the server's engine is the same; what goes through its Distributed
    tables is checked by the schema, writer and query tests (a migration there takes seconds)."""
    with open_clickhouse(request.param, request, tmp_path) as engine:
        yield engine


@pytest.fixture
def migrated(clickhouse: ClickHouse) -> ClickHouse:
    migrations.migrate(clickhouse)
    return clickhouse


def test_select_literal_round_trips_tricky_strings(clickhouse: ClickHouse) -> None:
    for text in TRICKY:
        rows = clickhouse.execute(sa.select(sa.literal(text, sa.String).label("v")))
        assert rows == [(text,)]
        assert rows.columns == ("v",)


def test_insert_and_read_back_tricky_strings(migrated: ClickHouse) -> None:
    events = [
        make_event(account=text, organization=text, client_id=text, properties={"k": text, text: [1, None]})
        for text in TRICKY
    ]
    migrated.insert_events(events)
    table = migrations.events
    for event in events:
        rows = migrated.execute(
            sa.select(table.c.account, table.c.organization, table.c.properties, table.c.event_id).where(
                table.c.account == event.account, table.c.event_id == event.event_id
            )
        )
        assert rows == [(event.account, event.organization, event.properties_json(), event.event_id)]


def test_values_come_back_with_the_same_types_on_both_engines(migrated: ClickHouse) -> None:
    event = make_event(timestamp=datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC))
    migrated.insert_events([event])
    table = migrations.events
    rows = migrated.execute(
        sa.select(
            table.c.event_id,
            table.c.timestamp,
            sa.func.toDate(table.c.timestamp).label("day"),
            sa.func.count().label("n"),
            sa.func.uniqExact(table.c.event_id).label("u"),
        )
        .where(table.c.timestamp >= datetime(2026, 3, 1), table.c.timestamp < datetime(2026, 3, 2))
        .group_by(table.c.event_id, table.c.timestamp)
    )
    assert rows == [(event.event_id, event.timestamp, date(2026, 3, 1), 1, 1)]
    assert rows.dicts()[0]["n"] == 1


def test_date_literals_compare_with_date_columns(migrated: ClickHouse) -> None:
    # ClickHouse 18.16 compares a DateTime with a Date numerically (seconds against days): compare DateTime
    # columns with datetimes and Date columns (or toDate(...)) with dates.
    migrated.insert_events([make_event(timestamp=datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC))])
    day = sa.func.toDate(migrations.events.c.timestamp)
    rows = migrated.execute(sa.select(sa.func.count()).where(day >= date(2026, 3, 1), day < date(2026, 3, 2)))
    assert rows == [(1,)]


def test_literal_rendering() -> None:
    assert literal("a'b\\c\n") == "'a\\'b\\\\c\\n'"
    assert literal(uuid.UUID(int=1)) == "'00000000-0000-0000-0000-000000000001'"
    assert literal(datetime(2026, 1, 2, 3, 4, 5)) == "toDateTime('2026-01-02 03:04:05', 'UTC')"
    assert literal([1, "x"]) == "[1, 'x']"
    assert render("SELECT 1") == "SELECT 1"


def test_server_engine_does_not_connect_until_used() -> None:
    engine = ServerEngine("clickhouse+native://default@127.0.0.1:1/nowhere", connect_timeout=0.5)
    assert engine.ping() is False
    with pytest.raises(ClickHouseError):
        engine.execute("SELECT 1")
    engine.close()


def test_errors_are_clickhouse_errors(clickhouse: ClickHouse) -> None:
    with pytest.raises(ClickHouseError):
        clickhouse.execute("SELECT no_such_column FROM system.one")
    assert clickhouse.ping()


def test_batches_spooled_as_json_lines_by_earlier_versions_are_still_inserted(migrated: ClickHouse) -> None:
    """A spool left by a version that stored JSONEachRow lines drains after an upgrade."""
    ids = [uuid.uuid4() for _ in range(2)]
    ts = int(NOW.timestamp())
    legacy = "\n".join(
        json.dumps({"event_id": i.hex, "account": f"old-{n}", "organization": "o", "client_id": "c",
                    "name": "legacy.event", "timestamp": ts, "received_at": ts, "properties": '{"n":1}',
                    "source": "api"}, ensure_ascii=False)
        for n, i in enumerate(ids)
    ).encode()
    migrated.insert_encoded([legacy, encode_events([make_event(name="new.event")])])
    rows = migrated.execute("SELECT event_id, account, name, properties, timestamp FROM events ORDER BY account")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[2] == "legacy.event"] == [
        (ids[0], "old-0", "legacy.event", '{"n":1}', NOW), (ids[1], "old-1", "legacy.event", '{"n":1}', NOW)]
    assert [r[2] for r in rows].count("new.event") == 1


def test_one_insert_of_many_batches_keeps_every_row(migrated: ClickHouse) -> None:
    batches = [[make_event(account=f"acct-{b}", name=f"n.{i}", properties={"b": b, "i": i}) for i in range(b + 1)]
               for b in range(30)]
    migrated.insert_encoded([encode_events(batch) for batch in batches])
    rows = migrated.execute("SELECT event_id, account, name, properties FROM events")
    expected = {(e.event_id, e.account, e.name, e.properties_json()) for batch in batches for e in batch}
    assert {tuple(r) for r in rows} == expected and len(rows) == len(expected)
