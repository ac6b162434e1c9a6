"""The ClickHouse schema: one module per version, forward-only, each with its DDL, its sort-key reasoning and the
backfill it needs; the runner applies those not yet recorded in `schema_migrations`.

The tables below are as they stand after the latest version; readers build statements on them.
"""

from analytics.migrations.base import MaterializedView, Migration, create_table_sql, metadata
from analytics.migrations.runner import MIGRATIONS, applied_versions, migrate, schema_migrations
from analytics.migrations.v001_create_events import EVENT_COLUMNS, EVENT_TYPES, events
from analytics.migrations.v003_record_active_days_per_account_and_month import account_activity
from analytics.migrations.v004_project_usage_events_by_organization import usage_events
from analytics.migrations.v005_count_daily_activity_by_full_event_id import EVENT_ID_HASH, daily_activity
from analytics.migrations.v006_record_activity_windows_per_account_and_month import (
    WINDOW_DAYS_BEFORE,
    account_windows,
)
from analytics.migrations.v007_roll_up_usage_per_day_and_record_usage_accounts import (
    usage_accounts,
    usage_changes,
    usage_daily,
    usage_repeats,
    usage_rollups,
)

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_ID_HASH",
    "EVENT_TYPES",
    "MIGRATIONS",
    "WINDOW_DAYS_BEFORE",
    "MaterializedView",
    "Migration",
    "account_activity",
    "account_windows",
    "applied_versions",
    "create_table_sql",
    "daily_activity",
    "events",
    "metadata",
    "migrate",
    "schema_migrations",
    "usage_accounts",
    "usage_changes",
    "usage_daily",
    "usage_events",
    "usage_repeats",
    "usage_rollups",
]
