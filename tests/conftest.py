"""Shared fixtures: the accounts database on SQLite and on PostgreSQL, the ClickHouse server, an SMTP server."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from analytics.clickhouse import ServerEngine
from tests.support.clickhouse import SERVER_URL, server_url_for
from tests.support.cluster import Cluster, existing_cluster, start_cluster
from tests.support.mail import Inbox

POSTGRES_ADMIN = os.environ.get("CANARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    name = f"canary_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the environment is broken
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc}")
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
