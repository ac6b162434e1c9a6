"""ClickHouse for analytics tests: every test runs on chDB and on the server at CANARY_TEST_CLICKHOUSE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from analytics.clickhouse import ClickHouse, EmbeddedEngine, ServerEngine
from analytics.ingest.model import Event

SERVER_URL = os.environ.get("CANARY_TEST_CLICKHOUSE_URL", "clickhouse+native://default@127.0.0.1:19000/canary_test")
NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)


def server_url_for(database: str) -> str:
    """SERVER_URL with its database replaced."""
    return sa.engine.make_url(SERVER_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def clickhouse_server_url() -> str:
    """The shared test server's URL base; fails (never skips) when it does not answer."""
    probe = ServerEngine(server_url_for("default"))
    try:
        if not probe.ping():
            pytest.fail(
                f"ClickHouse server not reachable at {SERVER_URL}; start it with "
                "`bash .ci/clickhouse.sh start /tmp/canary-ci-clickhouse 19000 18123` "
                "or set CANARY_TEST_CLICKHOUSE_URL"
            )
    finally:
        probe.close()
    return SERVER_URL


@pytest.fixture
def server_database(clickhouse_server_url: str) -> Iterator[str]:
    """A fresh database on the shared server, dropped afterwards; yields its URL."""
    name = f"canary_test_{uuid.uuid4().hex[:12]}"
    yield server_url_for(name)
    admin = ServerEngine(server_url_for("default"))
    try:
        admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


@pytest.fixture(params=["chdb", "server"])
def clickhouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    engine: ClickHouse
    if request.param == "chdb":
        engine = EmbeddedEngine(tmp_path / "clickhouse")
    else:
        url: str = request.getfixturevalue("server_database")
        engine = ServerEngine(url)
    try:
        yield engine
    finally:
        engine.close()


def make_event(**overrides: Any) -> Event:
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "account": "acct-1",
        "organization": "org-1",
        "client_id": "client-1",
        "name": "report.viewed",
        "timestamp": NOW,
        "received_at": NOW,
        "properties": {},
        "source": "api",
    }
    values.update(overrides)
    return Event(**values)
