"""ClickHouse for analytics tests: every test runs on chDB, on the server at CANARY_TEST_CLICKHOUSE_URL and on a
database of its own on the test cluster's two shards (`canary_shards`, `tests.analytics.on_cluster`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.clickhouse import ClickHouse, EmbeddedEngine, ServerEngine
from analytics.ingest.model import Event
from tests.analytics.on_cluster import cluster_database
from tests.support.clickhouse import SERVER_URL, server_url_for  # noqa: F401  (SERVER_URL: for this package's tests)

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)


@contextmanager
def open_clickhouse(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    """An empty engine of the test's own: chDB (``chdb``), the test server (``server``) or the test cluster's two
    shards (``cluster``)."""
    if kind == "cluster":
        with cluster_database(request.getfixturevalue("clickhouse_cluster")) as on_cluster:
            yield on_cluster
        return
    engine: ClickHouse
    if kind == "chdb":
        engine = EmbeddedEngine(tmp_path / "clickhouse")
    else:
        url: str = request.getfixturevalue("server_database")
        engine = ServerEngine(url)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(params=["chdb", "server", "cluster"])
def clickhouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    with open_clickhouse(request.param, request, tmp_path) as engine:
        yield engine


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
