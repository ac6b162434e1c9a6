"""ClickHouse tables, their numbered migrations and partition-based retention.

Everything here runs on ClickHouse 18.16 as well as on current releases: no DateTime64, TTL, CODEC, Map,
LowCardinality or server-side query parameters. Retention is dropping whole monthly partitions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types
from sqlalchemy.schema import CreateTable

if TYPE_CHECKING:
    from analytics.engines import ClickHouse

log = logging.getLogger(__name__)

metadata = sa.MetaData()

# One row per received event. ReplacingMergeTree(received_at) collapses rows sharing the sort key, and the
# sort key is fully determined by event_id: a retried delivery whose skew-corrected timestamp moved by a
# second still collapses into one row. The account prefix keeps each account's rows contiguous for
# per-account timelines; time filters prune by the monthly partition. Per-organization-per-day reads go to
# daily_activity. Until a merge runs duplicates may be visible: readers count uniqExact(event_id) or read
# with FINAL, never count(*).
events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", types.UUID, nullable=False),
    sa.Column("account", types.String, nullable=False),
    sa.Column("organization", types.String, nullable=False),
    sa.Column("client_id", types.String, nullable=False),
    sa.Column("name", types.String, nullable=False),
    sa.Column("timestamp", types.DateTime, nullable=False),
    sa.Column("received_at", types.DateTime, nullable=False),
    sa.Column("properties", types.String, nullable=False),  # JSON object text
    sa.Column("source", types.String, nullable=False),  # 'idp' | 'api'
    engines.ReplacingMergeTree(
        version="received_at",
        partition_by=sa.func.toYYYYMM(sa.text("timestamp")),
        order_by=("account", "event_id"),
    ),
)

EVENT_COLUMNS: tuple[str, ...] = tuple(column.name for column in events.columns)

# Activity per organization, day and account. Sorted by organization first because the readers are
# organization health and DAU/WAU/MAU per organization over a range of days. The state is the set of
# event ids, so a duplicate insert of the same event never counts twice: read uniqExactMerge(events).
daily_activity = sa.Table(
    "daily_activity",
    metadata,
    sa.Column("organization", types.String, nullable=False),
    sa.Column("day", types.Date, nullable=False),
    sa.Column("account", types.String, nullable=False),
    sa.Column("events", types.AggregateFunction("uniqExact", types.UUID), nullable=False),
    engines.AggregatingMergeTree(
        partition_by=sa.func.toYYYYMM(sa.text("day")),
        order_by=("organization", "day", "account"),
    ),
)

# Activity is a sign-in, a token issued or refreshed for a user, or an event posted by a resource server.
ACTIVITY_EVENT_NAMES: tuple[str, ...] = ("signin.succeeded", "token.issued", "token.refreshed")

# clickhouse-sqlalchemy cannot express a materialized view feeding an existing table.
DAILY_ACTIVITY_MV_DDL = """
CREATE MATERIALIZED VIEW IF NOT EXISTS daily_activity_mv TO daily_activity AS
SELECT
    organization,
    toDate(timestamp) AS day,
    account,
    uniqExactState(event_id) AS events
FROM events
WHERE account != '' AND (source = 'api' OR name IN ({names}))
GROUP BY organization, day, account
""".format(names=", ".join(f"'{name}'" for name in ACTIVITY_EVENT_NAMES))

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", types.UInt32, nullable=False),
    sa.Column("applied_at", types.DateTime, nullable=False),
    engines.MergeTree(order_by=("version",)),
)

RETAINED_TABLES: tuple[sa.Table, ...] = (events, daily_activity)


def create_table_sql(table: sa.Table) -> str:
    from clickhouse_sqlalchemy.drivers.native.base import ClickHouseDialect_native

    return str(CreateTable(table, if_not_exists=True).compile(dialect=ClickHouseDialect_native())).strip()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[], Sequence[str]]


# Forward-only. Append new migrations with the next number; never edit an applied one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create_events", lambda: [create_table_sql(events)]),
    Migration(
        2,
        "count_daily_activity_per_organization",
        lambda: [create_table_sql(daily_activity), DAILY_ACTIVITY_MV_DDL.strip()],
    ),
)


def applied_versions(engine: ClickHouse) -> set[int]:
    engine.execute(create_table_sql(schema_migrations))
    rows = engine.execute(sa.select(schema_migrations.c.version).distinct())
    return {int(row[0]) for row in rows}


def migrate(engine: ClickHouse, *, now: datetime | None = None) -> list[int]:
    """Apply the migrations not yet recorded; returns the versions applied.

    Every statement is ``IF NOT EXISTS``, so a migration interrupted before it was recorded reruns safely.
    """
    done = applied_versions(engine)
    applied: list[int] = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in done:
            continue
        for statement in migration.statements():
            engine.execute(statement)
        at = (now or datetime.now(UTC)).replace(microsecond=0)
        engine.execute(sa.insert(schema_migrations).values(version=migration.version, applied_at=at))
        log.info("applied ClickHouse migration %d %s", migration.version, migration.name)
        applied.append(migration.version)
    return applied


def partition_month(partition_id: str) -> date | None:
    """The first day of a ``toYYYYMM`` partition, or None for ids this module did not create."""
    if len(partition_id) != 6 or not partition_id.isdigit():
        return None
    year, month = int(partition_id[:4]), int(partition_id[4:])
    if not 1 <= month <= 12:
        return None
    return date(year, month, 1)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def drop_expired_partitions(engine: ClickHouse, retention_days: int, now: datetime) -> list[tuple[str, str]]:
    """Drop monthly partitions lying wholly before ``now - retention_days``; returns (table, partition)."""
    cutoff = (now.astimezone(UTC) if now.tzinfo else now).date() - timedelta(days=retention_days)
    dropped: list[tuple[str, str]] = []
    for table in RETAINED_TABLES:
        rows = engine.execute(
            "SELECT DISTINCT partition_id FROM system.parts "
            f"WHERE database = currentDatabase() AND table = '{table.name}' AND active"
        )
        for (partition_id,) in rows:
            first = partition_month(str(partition_id))
            if first is None or _next_month(first) > cutoff:
                continue
            # PARTITION ID '...' is understood by 18.16 and by current releases alike.
            engine.execute(f"ALTER TABLE {table.name} DROP PARTITION ID '{partition_id}'")
            log.info("dropped expired partition %s of %s", partition_id, table.name)
            dropped.append((table.name, str(partition_id)))
    return dropped
