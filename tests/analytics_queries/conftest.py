"""Query tests run over the real engines (`analytics.clickhouse`) and schema (`analytics.migrations`): chDB in
a temporary directory, a database of their own on the test server, and one on the test cluster's two shards
(`canary_shards`): every query gives the same answers on all three."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from analytics.clickhouse import ClickHouse, open_engine
from analytics.migrations import migrate
from tests.analytics.on_cluster import cluster_database
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


ENGINES = ["chdb", pytest.param("server", marks=pytest.mark.clickhouse_server), "cluster"]


def _open(kind: str, request: pytest.FixtureRequest, stack: ExitStack, chdb_dir: Path) -> ClickHouse:
    if kind == "cluster":
        return stack.enter_context(cluster_database(request.getfixturevalue("clickhouse_cluster"),
                                                    prefix="canary_queries"))
    if kind == "chdb":
        opened = open_engine(None, chdb_dir)
        stack.callback(opened.close)
        return opened
    database = f"canary_queries_{uuid.uuid4().hex[:10]}"
    opened = _server(database)
    stack.callback(opened.close)
    stack.callback(opened.execute, f"DROP DATABASE IF EXISTS {database}")
    return opened


@pytest.fixture(scope="session", params=ENGINES)
def loaded(
    request: pytest.FixtureRequest, simulation: Simulation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    with ExitStack() as stack:
        engine = _open(request.param, request, stack, tmp_path_factory.mktemp("chdb"))
        migrate(engine)
        insert_rows(engine, simulation.rows)
        yield Loaded(engine, simulation)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    """An empty engine of the test's own: chDB in a temporary directory, a new database on the server, or one
    on the test cluster's two shards."""
    with ExitStack() as stack:
        yield _open(request.param, request, stack, tmp_path / "chdb")
