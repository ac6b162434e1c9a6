from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from clickhouse_sqlalchemy import select as ch_select

from analytics import migrations, retention
from analytics.clickhouse import ClickHouse
from analytics.migrations.v005_count_daily_activity_by_full_event_id import DAILY_ACTIVITY_MV
from tests.analytics.conftest import NOW, make_event


def table_names(engine: ClickHouse) -> set[str]:
    rows = engine.execute("SELECT name FROM system.tables WHERE database = currentDatabase()")
    return {row[0] for row in rows}


def activity(engine: ClickHouse) -> dict[tuple[str, date, str], int]:
    table = migrations.daily_activity
    rows = engine.execute(
        sa.select(table.c.organization, table.c.day, table.c.account, sa.func.uniqExactMerge(table.c.events)).group_by(
            table.c.organization, table.c.day, table.c.account
        )
    )
    return {(org, day, account): count for org, day, account, count in rows}


def distinct_events(engine: ClickHouse) -> int:
    rows = engine.execute(sa.select(sa.func.uniqExact(migrations.events.c.event_id)))
    return int(rows[0][0])


def test_migrate_creates_tables_and_is_idempotent(clickhouse: ClickHouse) -> None:
    assert migrations.migrate(clickhouse) == [m.version for m in migrations.MIGRATIONS]
    assert {"events", "daily_activity", "daily_activity_mv", "schema_migrations"} <= table_names(clickhouse)
    assert migrations.migrate(clickhouse) == []
    assert migrations.applied_versions(clickhouse) == {m.version for m in migrations.MIGRATIONS}
    versions = clickhouse.execute(sa.select(migrations.schema_migrations.c.version))
    assert sorted(row[0] for row in versions) == [m.version for m in migrations.MIGRATIONS]


def test_migration_numbers_are_unique_and_increasing() -> None:
    versions = [m.version for m in migrations.MIGRATIONS]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


def test_materialized_view_selects_the_target_table_columns() -> None:
    ddl = DAILY_ACTIVITY_MV.ddl()
    selected = re.findall(r"AS (\w+)|^\s+(\w+),?$", ddl, re.MULTILINE)
    names = {alias or plain for alias, plain in selected}
    assert names == {column.name for column in migrations.daily_activity.columns}


def test_daily_activity_counts_only_activity(clickhouse: ClickHouse) -> None:
    migrations.migrate(clickhouse)
    day = NOW.date()
    clickhouse.insert_events(
        [
            make_event(account="u1", organization="o", source="api", name="anything"),
            make_event(account="u1", organization="o", source="idp", name="signin.succeeded"),
            make_event(account="u2", organization="o", source="idp", name="token.refreshed"),
            make_event(account="u3", organization="o", source="idp", name="token.issued"),
            make_event(account="u4", organization="o", source="idp", name="signin.failed"),
            make_event(account="u5", organization="o", source="idp", name="logout"),
            make_event(account="", organization="o", source="idp", name="token.issued"),
        ]
    )
    assert activity(clickhouse) == {("o", day, "u1"): 2, ("o", day, "u2"): 1, ("o", day, "u3"): 1}


def test_duplicate_inserts_count_once(clickhouse: ClickHouse) -> None:
    migrations.migrate(clickhouse)
    first = make_event(account="u1", organization="o")
    retried = make_event(
        event_id=first.event_id,
        account="u1",
        organization="o",
        timestamp=first.timestamp.replace(second=1),
        received_at=first.received_at.replace(minute=5),
    )
    clickhouse.insert_events([first])
    clickhouse.insert_events([first])
    clickhouse.insert_events([retried])
    assert distinct_events(clickhouse) == 1
    assert activity(clickhouse) == {("o", NOW.date(), "u1"): 1}
    final = clickhouse.execute(ch_select(sa.func.count()).select_from(migrations.events).final())
    assert final == [(1,)]
    if clickhouse.cluster is None:  # OPTIMIZE ... ON CLUSTER of a replicated table fails on 18.16
        clickhouse.execute("OPTIMIZE TABLE events FINAL")
        assert clickhouse.execute(sa.select(sa.func.count()).select_from(migrations.events)) == [(1,)]


def test_drop_expired_partitions(clickhouse: ClickHouse) -> None:
    migrations.migrate(clickhouse)
    months = [datetime(2025, m, 10, tzinfo=UTC) for m in (1, 2, 3)] + [datetime(2026, 3, 1, tzinfo=UTC)]
    clickhouse.insert_events([make_event(account="u", timestamp=t, received_at=t) for t in months])
    now = datetime(2026, 3, 15, tzinfo=UTC)
    # 400 days before 2026-03-15 is 2025-02-08: January 2025 ended before it, February 2025 did not.
    dropped = retention.drop_expired_partitions(clickhouse, 400, now)
    assert sorted(dropped) == [("daily_activity", "202501"), ("events", "202501")]
    remaining = clickhouse.execute(
        sa.select(sa.func.toYYYYMM(migrations.events.c.timestamp).label("m")).distinct().order_by(sa.text("m"))
    )
    assert [row[0] for row in remaining] == [202502, 202503, 202603]
    assert retention.drop_expired_partitions(clickhouse, 400, now) == []
    assert len(activity(clickhouse)) == 3


def test_partition_month_ignores_foreign_ids() -> None:
    assert retention.partition_month("202501") == date(2025, 1, 1)
    assert retention.partition_month("all") is None
    assert retention.partition_month("202513") is None
    assert retention.partition_month(str(uuid.uuid4())) is None
