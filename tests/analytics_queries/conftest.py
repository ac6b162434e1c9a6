"""Query tests run over the real engines (`analytics.clickhouse`) and schema (`analytics.migrations`): chDB in
a temporary directory, and a database of their own on the test server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from analytics.clickhouse import ClickHouse, open_engine
from analytics.migrations import migrate
from tests.analytics_queries.factory import Simulation, insert_rows, simulate

SERVER_URL = os.environ.get("CANARY_TEST_CLICKHOUSE_URL", "clickhouse+native://default@127.0.0.1:19000/canary_test")


@dataclass
class Loaded:
    engine: ClickHouse
    sim: Simulation


@pytest.fixture(scope="session")
def simulation() -> Simulation:
    return simulate(seed=7, accounts=200, days=120)


def _server(database: str) -> ClickHouse:
    try:
        admin = open_engine(SERVER_URL, Path("."))
        admin.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        admin.close()
    except Exception as error:  # pragma: no cover - depends on the machine
        pytest.fail(f"ClickHouse server unavailable at {SERVER_URL}: {error}")
    parts = urlsplit(SERVER_URL)
    return open_engine(urlunsplit(parts._replace(path=f"/{database}")), Path("."))


@pytest.fixture(scope="session", params=["chdb", pytest.param("server", marks=pytest.mark.clickhouse_server)])
def loaded(
    request: pytest.FixtureRequest, simulation: Simulation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    database = f"canary_queries_{uuid.uuid4().hex[:10]}"
    engine = open_engine(None, tmp_path_factory.mktemp("chdb")) if request.param == "chdb" else _server(database)
    migrate(engine)
    insert_rows(engine, simulation.rows)
    yield Loaded(engine, simulation)
    if request.param == "server":
        engine.execute(f"DROP DATABASE IF EXISTS {database}")
    engine.close()


@pytest.fixture(params=["chdb", pytest.param("server", marks=pytest.mark.clickhouse_server)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    """An empty engine of the test's own: chDB in a temporary directory, or a new database on the server."""
    database = f"canary_queries_{uuid.uuid4().hex[:10]}"
    opened = open_engine(None, tmp_path / "chdb") if request.param == "chdb" else _server(database)
    yield opened
    if request.param == "server":
        opened.execute(f"DROP DATABASE IF EXISTS {database}")
    opened.close()
