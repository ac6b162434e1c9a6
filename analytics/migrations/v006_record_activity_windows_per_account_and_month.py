"""Version 6: each account's active days seen from each UTC month, for DAU/WAU/MAU over all accounts."""

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

# One row per account and month, bit p of `days` is the day `month - 32 + p`, so a row holds the 32 days
# before its month (bits 0 to 31) and the month itself (bits 32 to 62). An event sets its day's bit in the row
# of its month and in the rows of the two months after, when it falls in their 32 days before. DAU/WAU/MAU over
# all accounts read one row per account and month with FINAL, which merges the rows of unmerged parts on
# reading: no grouping by account and no row of another month is needed for any trailing window of up to 32
# days. OR-ing masks is idempotent, so duplicate inserts of an event change nothing. A month's row lives in
# that month's partition: when retention drops a month, the next months' rows keep the days of it that they
# hold.
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


def account_windows_select(condition: str) -> str:
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


ACCOUNT_WINDOWS_MV = MaterializedView(
    "account_windows_mv", account_windows, account_windows_select(f"({ACTIVITY_CONDITION})")
)

MIGRATION = Migration(
    6,
    "record_activity_windows_per_account_and_month",
    lambda: [account_windows, ACCOUNT_WINDOWS_MV],
    backfill(account_windows, account_windows_select, f"({ACTIVITY_CONDITION})"),
)
