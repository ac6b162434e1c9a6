"""Version 7: what lets top events and adoption read a few thousand rows instead of every event of the range.

See `analytics.rollup` for the rollup's protocol and `analytics.queries.adoption` for the reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types

from analytics.migrations.base import MaterializedView, Migration, backfill, metadata

if TYPE_CHECKING:
    from analytics.clickhouse import ClickHouse

# The UTC days that received usage events, and when: every block inserted into `events` adds one row per
# distinct day of its usage events with the server's `now()`. Only the latest change of a day matters, so
# rows of one day collapse to the newest when parts merge (ReplacingMergeTree(changed_at) ORDER BY day):
# the table stays at about one row per day and part however many inserts there were, and readers take
# max(changed_at) per day. Monthly partitions follow the events' retention.
usage_changes = sa.Table(
    "usage_changes",
    metadata,
    sa.Column("day", types.Date, nullable=False),
    sa.Column("changed_at", types.DateTime, nullable=False),
    engines.ReplacingMergeTree(
        version="changed_at",
        partition_by=sa.func.toYYYYMM(sa.text("day")),
        order_by=("day",),
    ),
    # On a cluster the view writes each shard's changes to that shard; readers take max(changed_at) per day
    # over all shards, so a day may have rows on several.
    info={"shard_by": "toUInt16(day)"},
)


def usage_changes_select(condition: str) -> str:
    return f"""
SELECT toDate(timestamp, 'UTC') AS day, now() AS changed_at
FROM events
WHERE {condition}
GROUP BY day
"""


USAGE_CHANGES_MV = MaterializedView("usage_changes_mv", usage_changes, usage_changes_select("source = 'api'"))

# Exact distinct usage events per UTC day, organization and name, written by the rollup
# (`analytics.rollup`) from `usage_events` with the rollup's start time as `version`. A day is rolled up
# again when it changes; the newest row of each key wins (ReplacingMergeTree(version), and readers take
# argMax(events, version) until the parts merge). Sorted by day: readers take the days of a range.
usage_daily = sa.Table(
    "usage_daily",
    metadata,
    sa.Column("day", types.Date, nullable=False),
    sa.Column("organization", types.String, nullable=False),
    sa.Column("name", types.String, nullable=False),
    sa.Column("events", types.UInt64, nullable=False),
    sa.Column("version", types.DateTime, nullable=False),
    engines.ReplacingMergeTree(
        version="version",
        partition_by=sa.func.toYYYYMM(sa.text("day")),
        order_by=("day", "organization", "name"),
    ),
    # Counts per organization (over the events of every shard): on a cluster a key's rows meet on one shard.
    info={"shard_by": "cityHash64(organization)"},
)

# When each day was last rolled up: `rolled_at` is the rollup's start (ClickHouse `now()`), and
# `counted_before` the moment before which every change of the day is certainly in its counts
# (`rolled_at` less a safety margin, see `analytics.rollup`). The newest row per day wins.
usage_rollups = sa.Table(
    "usage_rollups",
    metadata,
    sa.Column("day", types.Date, nullable=False),
    sa.Column("rolled_at", types.DateTime, nullable=False),
    sa.Column("counted_before", types.DateTime, nullable=False),
    engines.ReplacingMergeTree(
        version="rolled_at",
        partition_by=sa.func.toYYYYMM(sa.text("day")),
        order_by=("day",),
    ),
    info={"shard_by": "toUInt16(day)"},
)

# Events whose copies fall on more than one UTC day (a retry of an event without a timestamp, or with a
# clock-corrected one, can land on the next day): one row per copy's day, organization, name and the id's
# 64-bit hash (`analytics.queries.sql.EVENT_KEY`), found by the rollup. Daily counts count such an event on
# each of its days; top events subtract the repeats of a range from what they read of `usage_daily`. Rows
# are few (retries across midnight); rows found twice are the same row, so readers count distinct days.
usage_repeats = sa.Table(
    "usage_repeats",
    metadata,
    sa.Column("day", types.Date, nullable=False),
    sa.Column("organization", types.String, nullable=False),
    sa.Column("name", types.String, nullable=False),
    sa.Column("event", types.UInt64, nullable=False),
    engines.ReplacingMergeTree(
        partition_by=sa.func.toYYYYMM(sa.text("day")),
        order_by=("day", "organization", "name", "event"),
    ),
    info={"shard_by": "cityHash64(organization)"},
)

# The accounts that posted usage events, per organization, event name and UTC month: bit d - 1 of `days`
# is set when the account posted an event of that name on day d of the month (as in account_activity).
# Adoption (distinct accounts per name over a range, and over all names) reads one row per account, name
# and month instead of one per event, and OR-ing masks is idempotent: a duplicate insert of an event never
# counts twice. Each partition holds one month, so the sort key is in effect (organization, name,
# account): the report of one organization reads one key range, and rows of one name and account sit
# together. A month wholly inside the range needs no look at the mask (every stored row has a bit set).
usage_accounts = sa.Table(
    "usage_accounts",
    metadata,
    sa.Column("organization", types.String, nullable=False),
    sa.Column("name", types.String, nullable=False),
    sa.Column("account", types.String, nullable=False),
    sa.Column("month", types.Date, nullable=False),
    sa.Column("days", types.AggregateFunction("groupBitOr", types.UInt32), nullable=False),
    engines.AggregatingMergeTree(
        partition_by=sa.func.toYYYYMM(sa.text("month")),
        order_by=("organization", "name", "account", "month"),
    ),
)


def usage_accounts_select(condition: str) -> str:
    return f"""
SELECT
    organization,
    name,
    account,
    toStartOfMonth(timestamp, 'UTC') AS month,
    groupBitOrState(toUInt32(bitShiftLeft(toUInt32(1), toDayOfMonth(timestamp, 'UTC') - 1))) AS days
FROM events
WHERE {condition}
GROUP BY organization, name, account, month
"""


USAGE_ACCOUNTS_MV = MaterializedView("usage_accounts_mv", usage_accounts, usage_accounts_select("source = 'api'"))


def fill_usage_tables(engine: ClickHouse) -> None:
    backfill(usage_accounts, usage_accounts_select, "source = 'api'")(engine)
    # One change now for every day already in `usage_events`, so that the rollup finds those days too. Runs
    # after usage_changes_mv exists: a day that gets events meanwhile has a change either way.
    engine.execute("INSERT INTO usage_changes (day, changed_at) SELECT DISTINCT day, now() FROM usage_events")


MIGRATION = Migration(
    7,
    "roll_up_usage_per_day_and_record_usage_accounts",
    lambda: [
        usage_changes,
        USAGE_CHANGES_MV,
        usage_daily,
        usage_rollups,
        usage_repeats,
        usage_accounts,
        USAGE_ACCOUNTS_MV,
    ],
    fill_usage_tables,
)
