"""Where the shared ClickHouse server for tests is (CI starts it; CANARY_TEST_CLICKHOUSE_URL says where)."""

from __future__ import annotations

import os

import sqlalchemy as sa

SERVER_URL = os.environ.get("CANARY_TEST_CLICKHOUSE_URL", "clickhouse+native://default@127.0.0.1:19000/canary_test")


def server_url_for(database: str) -> str:
    """SERVER_URL with its database replaced."""
    return sa.engine.make_url(SERVER_URL).set(database=database).render_as_string(hide_password=False)
