"""Version 1: the table of every received event."""

from __future__ import annotations

import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types

from analytics.migrations.base import Migration, column_types, metadata

# One row per received event. ReplacingMergeTree(received_at) collapses rows sharing the sort key, and the
# sort key is fully determined by event_id: a retried delivery whose skew-corrected timestamp moved by a
# second still collapses into one row. The account prefix keeps each account's rows contiguous for
# per-account timelines; time filters prune by the monthly partition. Per-organization-per-day reads go to
# daily_activity. Until a merge runs duplicates may be visible: readers count uniqExact of the id's 64-bit
# hash (`analytics.queries.sql.EVENT_KEY`, see daily_activity) or read with FINAL, never count(*).
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
EVENT_TYPES: tuple[str, ...] = column_types(events)
"""The ClickHouse type of each column of `events`, in EVENT_COLUMNS order: what spooled blocks hold."""

MIGRATION = Migration(1, "create_events", lambda: [events])
