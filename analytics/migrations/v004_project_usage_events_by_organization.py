"""Version 4: usage events posted by resource servers, sorted for the per-organization reports."""

from __future__ import annotations

import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types

from analytics.migrations.base import MaterializedView, Migration, backfill, metadata

# Usage events posted by resource servers (source 'api'), one row per event with only what top events need.
# Sorted by organization first: the per-organization report reads one key range, the report over all
# organizations reads the days of the range and nothing of the other sources. Duplicates of an event share the
# whole sort key and collapse when parts merge; readers count uniqExact of the full id hash.
usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("day", types.Date, nullable=False),
    sa.Column("organization", types.String, nullable=False),
    sa.Column("name", types.String, nullable=False),
    sa.Column("event_id", types.UUID, nullable=False),
    sa.Column("account", types.String, nullable=False),
    engines.ReplacingMergeTree(
        partition_by=sa.func.toYYYYMM(sa.text("day")),
        order_by=("organization", "day", "name", "event_id"),
    ),
)


def usage_events_select(condition: str) -> str:
    return f"""
SELECT toDate(timestamp, 'UTC') AS day, organization, name, event_id, account
FROM events
WHERE {condition}
"""


USAGE_EVENTS_MV = MaterializedView("usage_events_mv", usage_events, usage_events_select("source = 'api'"))

MIGRATION = Migration(
    4,
    "project_usage_events_by_organization",
    lambda: [usage_events, USAGE_EVENTS_MV],
    backfill(usage_events, usage_events_select, "source = 'api'"),
)
