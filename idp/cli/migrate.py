"""`canary migrate`: the SQL schema (Alembic) and, unless --sql-only, the ClickHouse schema."""

from __future__ import annotations

import argparse

from idp.bootstrap import open_analytics
from idp.cli.command import Commands
from idp.settings import Settings


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from idp.migrate import migrate_sql

    migrate_sql(settings)
    print("accounts database: up to date")
    if not args.sql_only:
        analytics = open_analytics(settings)
        try:
            analytics.migrate()
        finally:
            analytics.close()
        print("analytics (ClickHouse): up to date")
    return 0


def register(sub: Commands) -> None:
    m = sub.add_parser("migrate", help="create or upgrade the SQL schema and the ClickHouse schema")
    m.add_argument("--sql-only", action="store_true", help="only the accounts database, not ClickHouse")
    m.set_defaults(handler=cmd_migrate)
