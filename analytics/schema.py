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

from analytics import provider_events

if TYPE_CHECKING:
    from analytics.engines import ClickHouse

log = logging.getLogger(__name__)

metadata = sa.MetaData()

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

# Activity per organization, day and account. Sorted by organization first because the readers are
# organization health and DAU/WAU/MAU per organization over a range of days. The state is the set of
# event ids, so a duplicate insert of the same event never counts twice: read uniqExactMerge(events).
# The set holds a 64-bit hash of all 16 bytes of each id (`cityHash64(reinterpretAsString(event_id))`): over
# a UUID, ClickHouse 18.16 hashes only half of the id, so ids crafted to share that half would make every
# insert into the set, and every merge of two sets, slower with the size of the set (migration 5).
daily_activity = sa.Table(
    "daily_activity",
    metadata,
    sa.Column("organization", types.String, nullable=False),
    sa.Column("day", types.Date, nullable=False),
    sa.Column("account", types.String, nullable=False),
    sa.Column("events", types.AggregateFunction("uniqExact", types.UInt64), nullable=False),
    engines.AggregatingMergeTree(
        partition_by=sa.func.toYYYYMM(sa.text("day")),
        order_by=("organization", "day", "account"),
    ),
)

# Activity is a sign-in, a token issued or refreshed for a user, or an event posted by a resource server.
_ACTIVITY_CONDITION = "account != '' AND (source = 'api' OR name IN ({names}))".format(
    names=", ".join(f"'{name}'" for name in provider_events.ACTIVITY)
)


def _daily_activity_select(event_key: str, condition: str) -> str:
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


# clickhouse-sqlalchemy cannot express a materialized view feeding an existing table.
# Migration 2's view, as first applied: a set of UUIDs (see daily_activity).
DAILY_ACTIVITY_MV_DDL = "CREATE MATERIALIZED VIEW IF NOT EXISTS daily_activity_mv TO daily_activity AS" + (
    _daily_activity_select("event_id", _ACTIVITY_CONDITION)
)
# The view since migration 5: a set of the ids' full 64-bit hashes.
EVENT_ID_HASH = "cityHash64(reinterpretAsString(event_id))"
DAILY_ACTIVITY_TEXT_MV_DDL = "CREATE MATERIALIZED VIEW IF NOT EXISTS daily_activity_mv TO daily_activity AS" + (
    _daily_activity_select(EVENT_ID_HASH, _ACTIVITY_CONDITION)
)


def _daily_activity_table(name: str, event_key: type[types.UInt64] | type[types.UUID]) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("organization", types.String, nullable=False),
        sa.Column("day", types.Date, nullable=False),
        sa.Column("account", types.String, nullable=False),
        sa.Column("events", types.AggregateFunction("uniqExact", event_key), nullable=False),
        engines.AggregatingMergeTree(
            partition_by=sa.func.toYYYYMM(sa.text("day")),
            order_by=("organization", "day", "account"),
        ),
    )


# Migration 2 created daily_activity with a set of UUIDs; migration 5 builds its successor under this
# name, fills it, and puts it in place.
_daily_activity_uuid = _daily_activity_table("daily_activity", types.UUID)
_daily_activity_next = _daily_activity_table("daily_activity_next", types.UInt64)

# The days each account was active, one row per account and UTC month: bit d - 1 of `days` is set when the
# account was active on day d of the month. Sorted by account: every account question (last activity,
# inactive accounts, organization health, DAU/WAU/MAU, lifecycle) reads a few bytes per account and month
# instead of a row per active day, and one account's months are a single key range. OR-ing masks is
# idempotent, so duplicate inserts of an event change nothing; rows of one key in different parts are
# combined by the reader (`finalizeAggregation` per row, then a bitwise OR per account and month) until a
# merge combines them.
account_activity = sa.Table(
    "account_activity",
    metadata,
    sa.Column("account", types.String, nullable=False),
    sa.Column("month", types.Date, nullable=False),
    sa.Column("days", types.AggregateFunction("groupBitOr", types.UInt32), nullable=False),
    engines.AggregatingMergeTree(
        partition_by=sa.func.toYYYYMM(sa.text("month")),
        order_by=("account", "month"),
    ),
)


def _account_activity_select(condition: str) -> str:
    return f"""
SELECT
    account,
    toStartOfMonth(timestamp, 'UTC') AS month,
    groupBitOrState(toUInt32(bitShiftLeft(toUInt32(1), toDayOfMonth(timestamp, 'UTC') - 1))) AS days
FROM events
WHERE {condition}
GROUP BY account, month
"""


ACCOUNT_ACTIVITY_MV_DDL = "CREATE MATERIALIZED VIEW IF NOT EXISTS account_activity_mv TO account_activity AS" + (
    _account_activity_select(_ACTIVITY_CONDITION)
)

# Usage events posted by resource servers (source 'api'), one row per event with only what top events
# need. Sorted by organization first: the per-organization report reads one key range, the report over
# all organizations reads the days of the range and nothing of the other sources. Duplicates of an event
# share the whole sort key and collapse when parts merge; readers count uniqExact of the full id hash.
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


def _usage_events_select(condition: str) -> str:
    return f"""
SELECT toDate(timestamp, 'UTC') AS day, organization, name, event_id, account
FROM events
WHERE {condition}
"""


USAGE_EVENTS_MV_DDL = "CREATE MATERIALIZED VIEW IF NOT EXISTS usage_events_mv TO usage_events AS" + (
    _usage_events_select("source = 'api'")
)

# The days each account was active, seen from each UTC month: one row per account and month, bit p of
# `days` is the day `month - 32 + p`, so a row holds the 32 days before its month (bits 0 to 31) and the
# month itself (bits 32 to 62). An event sets its day's bit in the row of its month and in the rows of
# the two months after, when it falls in their 32 days before. DAU/WAU/MAU over all accounts read one row
# per account and month with FINAL, which merges the rows of unmerged parts on reading: no grouping by
# account and no row of another month is needed for any trailing window of up to 32 days. OR-ing masks is
# idempotent, so duplicate inserts of an event change nothing. A month's row lives in that month's
# partition: when retention drops a month, the next months' rows keep the days of it that they hold.
account_windows = sa.Table(
    "account_windows",
    metadata,
    sa.Column("account", types.String, nullable=False),
    sa.Column("month", types.Date, nullable=False),
    sa.Column("days", types.AggregateFunction("groupBitOr", types.UInt64), nullable=False),
    engines.AggregatingMergeTree(
        partition_by=sa.func.toYYYYMM(sa.text("month")),
        order_by=("account", "month"),
    ),
)

WINDOW_DAYS_BEFORE = 32
"""Days before its month held in a row of `account_windows`."""


def _account_windows_select(condition: str) -> str:
    own = "toStartOfMonth(timestamp, 'UTC')"
    offset = "(toInt32(toUInt16(toDate(timestamp, 'UTC'))) - toInt32(toUInt16(month)))"
    return f"""
SELECT
    account,
    month,
    groupBitOrState(toUInt64(bitShiftLeft(toUInt64(1), toUInt8({offset} + {WINDOW_DAYS_BEFORE})))) AS days
FROM events
ARRAY JOIN [{own}, addMonths({own}, 1), addMonths({own}, 2)] AS month
WHERE {condition} AND {offset} >= -{WINDOW_DAYS_BEFORE}
GROUP BY account, month
"""


ACCOUNT_WINDOWS_MV_DDL = "CREATE MATERIALIZED VIEW IF NOT EXISTS account_windows_mv TO account_windows AS" + (
    _account_windows_select(f"({_ACTIVITY_CONDITION})")
)

# Migration 7: what lets top events read a few thousand rows instead of counting every event id of the
# range (see `analytics.rollup` for the protocol and `analytics.queries.adoption` for the reader).
#
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
)


def _usage_changes_select(condition: str) -> str:
    return f"""
SELECT toDate(timestamp, 'UTC') AS day, now() AS changed_at
FROM events
WHERE {condition}
GROUP BY day
"""


USAGE_CHANGES_MV_DDL = "CREATE MATERIALIZED VIEW IF NOT EXISTS usage_changes_mv TO usage_changes AS" + (
    _usage_changes_select("source = 'api'")
)

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


def _usage_accounts_select(condition: str) -> str:
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


USAGE_ACCOUNTS_MV_DDL = "CREATE MATERIALIZED VIEW IF NOT EXISTS usage_accounts_mv TO usage_accounts AS" + (
    _usage_accounts_select("source = 'api'")
)


def _record_stored_usage_days(engine: ClickHouse) -> None:
    """One change now for every day already in `usage_events`, so that the rollup finds those days too.

    Runs after usage_changes_mv exists: a day that gets events meanwhile has a change either way.
    """
    engine.execute("INSERT INTO usage_changes (day, changed_at) SELECT DISTINCT day, now() FROM usage_events")


def _fill_usage_tables(engine: ClickHouse) -> None:
    _backfill(usage_accounts, _usage_accounts_select, "source = 'api'")(engine)
    _record_stored_usage_days(engine)


schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", types.UInt32, nullable=False),
    sa.Column("applied_at", types.DateTime, nullable=False),
    engines.MergeTree(order_by=("version",)),
)

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


def create_table_sql(table: sa.Table) -> str:
    from clickhouse_sqlalchemy.drivers.native.base import ClickHouseDialect_native

    return str(CreateTable(table, if_not_exists=True).compile(dialect=ClickHouseDialect_native())).strip()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[], Sequence[str]]
    backfill: Callable[[ClickHouse], None] | None = None
    """Fills a new table from the events already stored; runs after the statements and must be idempotent."""


def _backfill(target: sa.Table, select: Callable[[str], str], condition: str) -> Callable[[ClickHouse], None]:
    """Insert ``select(condition)`` over the stored events into ``target``, one month of events at a time.

    The materialized view exists before this runs, so an event inserted meanwhile may be counted by both;
    the targets are idempotent (bitwise OR, sets of ids, rows collapsing on the event id), so that changes nothing,
    and neither does running the backfill again after an interruption.
    """

    def run(engine: ClickHouse) -> None:
        rows = engine.execute("SELECT DISTINCT toYYYYMM(timestamp) AS m FROM events ORDER BY m")
        columns = ", ".join(column.name for column in target.columns)
        for (month,) in rows:
            # `events` is partitioned by toYYYYMM(timestamp): each statement reads one partition.
            engine.execute(
                f"INSERT INTO {target.name} ({columns})" + select(f"toYYYYMM(timestamp) = {int(month)} AND {condition}")
            )
            log.info("filled %s from the events of %s", target.name, month)

    return run


def _column_type(engine: ClickHouse, table: str, column: str) -> str | None:
    rows = engine.execute(
        "SELECT type FROM system.columns"
        f" WHERE database = currentDatabase() AND table = '{table}' AND name = '{column}'"
    )
    return str(rows[0][0]) if rows else None


def _replace_daily_activity(engine: ClickHouse) -> None:
    """Put daily_activity with sets of full id hashes in place of the one with sets of UUIDs, and refill it.

    Each step checks what is there, so an interrupted run resumes. The old table's rows are all derived
    from `events` (same monthly partitions and retention), so the refill loses nothing. Events inserted
    while no view feeds the table are covered: the refill reads `events` after the new view exists, and
    sets of ids make counting an event twice impossible.
    """
    current = _column_type(engine, "daily_activity", "events")
    if current is not None and "UUID" in current:
        engine.execute("DROP TABLE IF EXISTS daily_activity_mv")
        engine.execute("DROP TABLE daily_activity")
        current = None
    if current is None:
        engine.execute("RENAME TABLE daily_activity_next TO daily_activity")
    else:
        engine.execute("DROP TABLE IF EXISTS daily_activity_next")
    engine.execute(DAILY_ACTIVITY_TEXT_MV_DDL.strip())
    fill = _backfill(
        daily_activity,
        lambda condition: _daily_activity_select(EVENT_ID_HASH, condition),
        f"({_ACTIVITY_CONDITION})",
    )
    fill(engine)


# Forward-only. Append new migrations with the next number; never edit an applied one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create_events", lambda: [create_table_sql(events)]),
    Migration(
        2,
        "count_daily_activity_per_organization",
        lambda: [create_table_sql(_daily_activity_uuid), DAILY_ACTIVITY_MV_DDL.strip()],
    ),
    Migration(
        3,
        "record_active_days_per_account_and_month",
        lambda: [create_table_sql(account_activity), ACCOUNT_ACTIVITY_MV_DDL.strip()],
        _backfill(account_activity, _account_activity_select, f"({_ACTIVITY_CONDITION})"),
    ),
    Migration(
        4,
        "project_usage_events_by_organization",
        lambda: [create_table_sql(usage_events), USAGE_EVENTS_MV_DDL.strip()],
        _backfill(usage_events, _usage_events_select, "source = 'api'"),
    ),
    Migration(
        5,
        "count_daily_activity_by_full_event_id",
        lambda: [create_table_sql(_daily_activity_next)],
        lambda engine: _replace_daily_activity(engine),
    ),
    Migration(
        6,
        "record_activity_windows_per_account_and_month",
        lambda: [create_table_sql(account_windows), ACCOUNT_WINDOWS_MV_DDL.strip()],
        _backfill(account_windows, _account_windows_select, f"({_ACTIVITY_CONDITION})"),
    ),
    Migration(
        7,
        "roll_up_usage_per_day_and_record_usage_accounts",
        lambda: [
            create_table_sql(usage_changes),
            USAGE_CHANGES_MV_DDL.strip(),
            create_table_sql(usage_daily),
            create_table_sql(usage_rollups),
            create_table_sql(usage_repeats),
            create_table_sql(usage_accounts),
            USAGE_ACCOUNTS_MV_DDL.strip(),
        ],
        _fill_usage_tables,
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
        if migration.backfill is not None:
            migration.backfill(engine)
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
    """Drop monthly partitions lying wholly before ``now - retention_days``.

    Returns the (table, partition) pairs dropped from RETAINED_TABLES; the DERIVED_TABLES lose the same
    months and are not listed.
    """
    cutoff = (now.astimezone(UTC) if now.tzinfo else now).date() - timedelta(days=retention_days)
    dropped: list[tuple[str, str]] = []
    for table, listed in [(t, True) for t in RETAINED_TABLES] + [(t, False) for t in DERIVED_TABLES]:
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
            if listed:
                dropped.append((table.name, str(partition_id)))
    return dropped
