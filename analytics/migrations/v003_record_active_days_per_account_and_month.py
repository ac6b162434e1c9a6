"""Version 3: the days each account was active, one row per account and UTC month."""

from __future__ import annotations

import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types

from analytics.migrations.base import (
    ACTIVITY_CONDITION,
    MaterializedView,
    Migration,
    backfill,
    metadata,
)

# Bit d - 1 of `days` is set when the account was active on day d of the month. Sorted by account: every
# account question (last activity, inactive accounts, organization health, DAU/WAU/MAU, lifecycle) reads a few
# bytes per account and month instead of a row per active day, and one account's months are a single key
# range. OR-ing masks is idempotent, so duplicate inserts of an event change nothing; rows of one key in
# different parts are combined by the reader (`finalizeAggregation` per row, then a bitwise OR per account and
# month) until a merge combines them.
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


def account_activity_select(condition: str) -> str:
    return f"""
SELECT
    account,
    toStartOfMonth(timestamp, 'UTC') AS month,
    groupBitOrState(toUInt32(bitShiftLeft(toUInt32(1), toDayOfMonth(timestamp, 'UTC') - 1))) AS days
FROM events
WHERE {condition}
GROUP BY account, month
"""


ACCOUNT_ACTIVITY_MV = MaterializedView(
    "account_activity_mv", account_activity, account_activity_select(ACTIVITY_CONDITION)
)

MIGRATION = Migration(
    3,
    "record_active_days_per_account_and_month",
    lambda: [account_activity, ACCOUNT_ACTIVITY_MV],
    backfill(account_activity, account_activity_select, f"({ACTIVITY_CONDITION})"),
)
