"""The registry of ClickHouse schema versions and the runner that applies the ones not yet recorded."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types

from analytics.migrations import (
    v001_create_events,
    v002_count_daily_activity_per_organization,
    v003_record_active_days_per_account_and_month,
    v004_project_usage_events_by_organization,
    v005_count_daily_activity_by_full_event_id,
    v006_record_activity_windows_per_account_and_month,
    v007_roll_up_usage_per_day_and_record_usage_accounts,
)
from analytics.migrations.base import Migration, metadata
from analytics.migrations.topology import EVERY_SERVER, Topology

if TYPE_CHECKING:
    from analytics.clickhouse import ClickHouse

log = logging.getLogger(__name__)

# Forward-only. Append new migrations with the next number (a module of their own); never edit an applied one.
MIGRATIONS: tuple[Migration, ...] = (
    v001_create_events.MIGRATION,
    v002_count_daily_activity_per_organization.MIGRATION,
    v003_record_active_days_per_account_and_month.MIGRATION,
    v004_project_usage_events_by_organization.MIGRATION,
    v005_count_daily_activity_by_full_event_id.MIGRATION,
    v006_record_activity_windows_per_account_and_month.MIGRATION,
    v007_roll_up_usage_per_day_and_record_usage_accounts.MIGRATION,
)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", types.UInt32, nullable=False),
    sa.Column("applied_at", types.DateTime, nullable=False),
    engines.MergeTree(order_by=("version",)),
    # On a cluster every server holds every row: whichever server a node connects to knows the schema's version.
    info={"shard_by": EVERY_SERVER},
)


def applied_versions(engine: ClickHouse) -> set[int]:
    exists = engine.execute(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'"
    )
    if not exists[0][0]:
        # Only when missing: on a cluster DDL waits for every server, and a node starting while one is down
        # must still find the schema up to date.
        for statement in Topology.of(engine).create(schema_migrations):
            engine.execute(statement)
    rows = engine.execute(sa.select(schema_migrations.c.version).distinct())
    return {int(row[0]) for row in rows}


def migrate(engine: ClickHouse, *, now: datetime | None = None, until: int | None = None) -> list[int]:
    """Apply the migrations not yet recorded (up to version ``until`` when given); returns the versions applied.

    Every statement is ``IF NOT EXISTS``, so a migration interrupted before it was recorded reruns safely. On
    a cluster (``engine.cluster``) the schema is laid out by ``analytics.migrations.topology``, each statement
    `ON CLUSTER`: it returns once every server ran it, and fails after `distributed_ddl_task_timeout` when one
    is down.
    """
    done = applied_versions(engine)
    topology = Topology.of(engine)
    applied: list[int] = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in done or (until is not None and migration.version > until):
            continue
        for item in migration.statements():
            for statement in topology.create(item):
                engine.execute(statement)
        if migration.backfill is not None:
            migration.backfill(engine)
        at = (now or datetime.now(UTC)).replace(microsecond=0)
        engine.execute(sa.insert(schema_migrations).values(version=migration.version, applied_at=at))
        log.info("applied ClickHouse migration %d %s", migration.version, migration.name)
        applied.append(migration.version)
    return applied
