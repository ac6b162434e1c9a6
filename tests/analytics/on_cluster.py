"""Databases of a test's own on the test cluster (`tests.support.cluster`), laid out for `canary_shards` (two
shards of one server each) or `canary_replicas` (one shard of two replicas)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from analytics.clickhouse import Cluster as ClusterSettings
from analytics.clickhouse import ServerEngine
from tests.support.cluster import SHARDS, Cluster


def cluster_engine(cluster: Cluster, database: str, *, name: str = SHARDS, server: int = 1,
                   insert_quorum: int = 0) -> ServerEngine:
    """An engine connected to `server` of the test cluster, for the cluster declared as `name`."""
    return ServerEngine(cluster.url(database, server), cluster=ClusterSettings(name, insert_quorum))


def drop_database(cluster: Cluster, database: str, *, name: str = SHARDS) -> None:
    admin = ServerEngine(cluster.url("default"))
    try:
        admin.execute(f"DROP DATABASE IF EXISTS `{database}` ON CLUSTER {name}")
    finally:
        admin.close()


@contextmanager
def cluster_database(cluster: Cluster, *, name: str = SHARDS, prefix: str = "canary_cluster") -> Iterator[ServerEngine]:
    """An engine on a new database of cluster `name` (created on first use), dropped on every server afterwards."""
    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = cluster_engine(cluster, database, name=name)
    try:
        yield engine
    finally:
        engine.close()
        drop_database(cluster, database, name=name)
