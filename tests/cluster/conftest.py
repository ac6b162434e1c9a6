"""Canary on a ClickHouse cluster whose servers the tests stop, kill and start again during ingest.

The cluster is this run's own: the session's (``clickhouse_cluster``) when the run started it, else — when
CANARY_TEST_CLUSTER_PORT names a cluster shared with others, which must never lose a server — one started here.
Each test gets a database of its own on every server, a Canary over real HTTP (SQLite accounts, the spool under
the test's directory) writing to server 1, accounts to post for, and a token of a first-party resource server.
Every server is running again after each test, whatever happened in it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from analytics.api import Analytics
from idp.db import transaction
from idp.oauth.clients import create_client
from tests.support.cluster import Cluster, existing_cluster, start_cluster
from tests.support.live import LiveServer, serve

SERVERS = (1, 2, 3)
ACCOUNTS = 12


def coordinated(cluster: Cluster, timeout: float = 60.0) -> None:
    """Wait until every server holds a ZooKeeper session (``.ci/cluster.sh`` starts them once ZooKeeper takes
    sessions; a server restarted by an earlier test may still be opening its own)."""
    deadline = time.monotonic() + timeout
    for server in SERVERS:
        while True:
            try:
                query(cluster, server, "SELECT count() FROM system.zookeeper WHERE path = '/'")
                break
            except (ClickHouseError, OSError, EOFError) as error:
                if time.monotonic() > deadline:
                    pytest.fail(f"server {server} of the cluster holds no ZooKeeper session: {error}")
                time.sleep(0.2)


@pytest.fixture(scope="session")
def fault_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if existing_cluster() is None:
        cluster: Cluster = request.getfixturevalue("clickhouse_cluster")
        coordinated(cluster)
        yield cluster
        return
    try:
        own = start_cluster(tmp_path_factory.mktemp("fault-cluster"))
    except Exception as error:  # pragma: no cover - the machine lacks zookeeper or clickhouse-server
        pytest.fail(f"{error}; .ci/run installs Debian's zookeeper and clickhouse-server")
    coordinated(own)
    yield own
    own.stop()


def client(cluster: Cluster, server: int, database: str = "default") -> Client:
    return Client(host="127.0.0.1", port=cluster.native_port(server), database=database, connect_timeout=3,
                  send_receive_timeout=60, sync_request_timeout=3)


def query(cluster: Cluster, server: int, sql: str, database: str = "default") -> list[tuple]:
    connection = client(cluster, server, database)
    try:
        rows: list[tuple] = connection.execute(sql)
        return rows
    finally:
        connection.disconnect()


@dataclass
class Canary:
    """A live Canary ingesting into ``database`` on ``cluster_name`` through server 1."""

    live: LiveServer
    analytics: Analytics
    cluster: Cluster
    database: str
    accounts: list[str]
    token: str

    @property
    def url(self) -> str:
        return self.live.url

    def query(self, server: int, sql: str) -> list[tuple]:
        return query(self.cluster, server, sql, self.database)


def first_party_token(live: LiveServer) -> str:
    """A client_credentials token of a first-party resource server, which may post events for any account."""
    with transaction(live.context.factory) as db:
        client, secret = create_client(db, name="resource server", grant_types=["client_credentials"],
                                       scope="events:write", first_party=True)
        client_id = client.client_id
    response = httpx.post(f"{live.url}/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret or ""), timeout=30)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def open_analytics(url: str, cluster_name: str, data_dir: Path) -> Analytics:
    """Canary's analytics on the cluster (what CANARY_ANALYTICS_CLUSTER opens), the writer draining every 0.2 s."""
    return Analytics.open(url=url, cluster=cluster_name, data_dir=data_dir, flush_interval=0.2,
                          rollup_interval=None)


@pytest.fixture
def servers_back(fault_cluster: Cluster) -> Iterator[Cluster]:
    """The cluster; every server is started again at the end of the test, whatever the test stopped."""
    yield fault_cluster
    for server in SERVERS:
        fault_cluster.start_server(server)


def start_canary(cluster: Cluster, cluster_name: str, tmp_path: Path, alt_hosts: tuple[int, ...] = ()) -> Canary:
    """Canary writing to server 1 (then to the servers ``alt_hosts`` in turn when it is down)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    database = f"canary_faults_{uuid.uuid4().hex[:10]}"
    url = cluster.url(database, server=1)
    if alt_hosts:
        url += "?alt_hosts=" + ",".join(f"127.0.0.1:{cluster.native_port(server)}" for server in alt_hosts)
    analytics = open_analytics(url, cluster_name, tmp_path)
    analytics.migrate()
    live = serve(tmp_path, analytics)
    try:
        accounts = [live.user().id for _ in range(ACCOUNTS)]
        token = first_party_token(live)
    except BaseException:
        live.stop()
        raise
    return Canary(live, analytics, cluster, database, accounts, token)


@pytest.fixture
def canary_factory(servers_back: Cluster, tmp_path: Path) -> Iterator[Callable[..., Canary]]:
    started: list[Canary] = []

    def start(cluster_name: str, alt_hosts: tuple[int, ...] = ()) -> Canary:
        canary = start_canary(servers_back, cluster_name, tmp_path / f"canary-{len(started)}", alt_hosts)
        started.append(canary)
        return canary

    yield start
    for canary in started:
        canary.live.stop()  # the app's lifespan closes its analytics (the writer's last drain included)
        for server in SERVERS:
            servers_back.start_server(server)
            query(servers_back, server, f"DROP DATABASE IF EXISTS `{canary.database}`")
