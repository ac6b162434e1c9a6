"""A ClickHouse cluster of the test run's own: ZooKeeper and three clickhouse-server processes (`.ci/cluster.sh`).

Two clusters are declared over the three servers: `canary_shards` (servers 1 and 2, one shard each) and
`canary_replicas` (servers 1 and 3, two replicas of one shard). The session starts the processes in a temporary
directory on free loopback ports and stops them at the end; with CANARY_TEST_CLUSTER_PORT set to the base port of
a cluster already started by hand (`bash .ci/cluster.sh start DIR PORT`), the tests use that one and leave it
running.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "cluster.sh"
SHARDS = "canary_shards"
"""Two shards of one replica: servers 1 and 2."""
REPLICAS = "canary_replicas"
"""One shard of two replicas: servers 1 and 3."""
PORT_SPAN = 24


@dataclass(frozen=True)
class Cluster:
    directory: Path
    base_port: int

    def native_port(self, server: int) -> int:
        return self.base_port + server

    def http_port(self, server: int) -> int:
        return self.base_port + 10 + server

    def url(self, database: str, server: int = 1) -> str:
        """The native URL of one server, with `database`."""
        port = self.native_port(server)
        return str(sa.engine.URL.create("clickhouse+native", "default", None, "127.0.0.1", port, database))

    def _run(self, *args: str) -> None:
        subprocess.run(["bash", str(SCRIPT), *args], check=True, capture_output=True, text=True, timeout=120)

    def stop_server(self, server: int) -> None:
        self._run("stop-server", str(self.directory), str(server))

    def kill_server(self, server: int) -> None:
        self._run("kill-server", str(self.directory), str(server))

    def start_server(self, server: int) -> None:
        self._run("start-server", str(self.directory), str(server))

    def stop(self) -> None:
        self._run("stop", str(self.directory))


def _span_is_free(base: int) -> bool:
    for port in range(base, base + PORT_SPAN):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_base_port(start: int = 21000, end: int = 29000) -> int:
    for base in range(start + (os.getpid() % 200) * PORT_SPAN, end, PORT_SPAN):
        if _span_is_free(base):
            return base
    raise RuntimeError("no free span of loopback ports for a ClickHouse cluster")


def start_cluster(directory: Path) -> Cluster:
    """Start ZooKeeper and the three servers under `directory`; raises with their output if they do not start."""
    cluster = Cluster(directory, free_base_port())
    try:
        cluster._run("start", str(directory), str(cluster.base_port))
    except subprocess.CalledProcessError as error:
        cluster.stop()
        raise RuntimeError(f"the ClickHouse cluster did not start: {error.stdout}{error.stderr}") from error
    return cluster


def existing_cluster() -> Cluster | None:
    """The cluster named by CANARY_TEST_CLUSTER_PORT and CANARY_TEST_CLUSTER_DIR, if any."""
    port = os.environ.get("CANARY_TEST_CLUSTER_PORT")
    if not port:
        return None
    return Cluster(Path(os.environ.get("CANARY_TEST_CLUSTER_DIR", "")), int(port))
