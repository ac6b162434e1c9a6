"""Retention: dropping the monthly partitions that lie wholly before the retention window.

Every table is partitioned by month (``toYYYYMM``), so retention never deletes rows one by one; ClickHouse 18.16
has no TTL.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from analytics.migrations import (
    account_activity,
    account_windows,
    daily_activity,
    events,
    usage_accounts,
    usage_changes,
    usage_daily,
    usage_events,
    usage_repeats,
    usage_rollups,
)
from analytics.migrations.topology import Topology

if TYPE_CHECKING:
    from analytics.clickhouse import ClickHouse

log = logging.getLogger(__name__)

RETAINED_TABLES: tuple[sa.Table, ...] = (events, daily_activity)
# Summaries of `events` with the same monthly partitions: they lose a month when `events` does.
DERIVED_TABLES: tuple[sa.Table, ...] = (
    account_activity,
    usage_events,
    account_windows,
    usage_changes,
    usage_daily,
    usage_rollups,
    usage_repeats,
    usage_accounts,
)


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
    """Drop monthly partitions lying wholly before ``now - retention_days``.

    Returns the (table, partition) pairs dropped from RETAINED_TABLES; the DERIVED_TABLES lose the same
    months and are not listed.
    """
    cutoff = (now.astimezone(UTC) if now.tzinfo else now).date() - timedelta(days=retention_days)
    dropped: list[tuple[str, str]] = []
    topology = Topology.of(engine)
    for table, listed in [(t, True) for t in RETAINED_TABLES] + [(t, False) for t in DERIVED_TABLES]:
        rows = engine.execute(topology.partitions(table.name))
        for (partition_id,) in rows:
            first = partition_month(str(partition_id))
            if first is None or _next_month(first) > cutoff:
                continue
            # PARTITION ID '...' is understood by 18.16 and by current releases alike.
            # On a cluster, from the local tables of every server (a shard without the month has nothing to drop).
            engine.execute(topology.alter_local(table.name, f"DROP PARTITION ID '{partition_id}'"))
            log.info("dropped expired partition %s of %s", partition_id, table.name)
            if listed:
                dropped.append((table.name, str(partition_id)))
    return dropped
