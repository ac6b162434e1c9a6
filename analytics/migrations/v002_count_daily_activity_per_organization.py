"""Version 2: activity per organization, day and account, as sets of event ids (replaced by version 5)."""

from __future__ import annotations

import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types

from analytics.migrations.base import ACTIVITY_CONDITION, MaterializedView, Migration


def daily_activity_table(
    name: str, event_key: type[types.UInt64] | type[types.UUID], metadata: sa.MetaData | None = None
) -> sa.Table:
    # Sorted by organization first because the readers are organization health and DAU/WAU/MAU per
    # organization over a range of days. The state is the set of event ids, so a duplicate insert of the same
    # event never counts twice: read uniqExactMerge(events).
    return sa.Table(
        name,
        metadata if metadata is not None else sa.MetaData(),
        sa.Column("organization", types.String, nullable=False),
        sa.Column("day", types.Date, nullable=False),
        sa.Column("account", types.String, nullable=False),
        sa.Column("events", types.AggregateFunction("uniqExact", event_key), nullable=False),
        engines.AggregatingMergeTree(
            partition_by=sa.func.toYYYYMM(sa.text("day")),
            order_by=("organization", "day", "account"),
        ),
    )


def daily_activity_select(event_key: str, condition: str) -> str:
    return f"""
SELECT
    organization,
    toDate(timestamp) AS day,
    account,
    uniqExactState({event_key}) AS events
FROM events
WHERE {condition}
GROUP BY organization, day, account
"""


# As first created: a set of UUIDs per row.
daily_activity_uuid = daily_activity_table("daily_activity", types.UUID)
DAILY_ACTIVITY_MV = MaterializedView(
    "daily_activity_mv", daily_activity_uuid, daily_activity_select("event_id", ACTIVITY_CONDITION)
)

MIGRATION = Migration(
    2,
    "count_daily_activity_per_organization",
    lambda: [daily_activity_uuid, DAILY_ACTIVITY_MV],
)
