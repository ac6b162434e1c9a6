"""Shared fixtures: the accounts database on SQLite and on PostgreSQL, the ClickHouse server, an SMTP server."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from analytics.clickhouse import ServerEngine
from tests.support.clickhouse import SERVER_URL, server_url_for
from tests.support.cluster import Cluster, existing_cluster, start_cluster
from tests.support.mail import Inbox
from tests.support.postgres import fresh_postgres_database


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    with fresh_postgres_database("canary_test") as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'canary.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


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


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """ZooKeeper and three ClickHouse servers of this run's own (`tests.support.cluster`); fails when they cannot
    start (never skips)."""
    existing = existing_cluster()
    if existing is not None:
        yield existing
        return
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("clickhouse-cluster"))
    except Exception as error:  # pragma: no cover - the machine lacks zookeeper or clickhouse-server
        pytest.fail(f"{error}; .ci/run installs Debian's zookeeper and clickhouse-server")
    yield cluster
    cluster.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
