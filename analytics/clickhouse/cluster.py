"""What a connection to a ClickHouse cluster needs beyond one server: the cluster's name and the settings of
every statement sent to it (docs/cluster.md).

The schema on a cluster (``analytics.migrations.topology``): each table is a local table on a
`Replicated*MergeTree` engine on every server, sharded by account, with a `Distributed` table of the table's own
name over them, so readers and writers keep using the names they use on one server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
QUORUM_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Cluster:
    """A cluster declared in the servers' `remote_servers`, and how Canary writes to it."""

    name: str
    insert_quorum: int = 0
    """Replicas of a shard that must have written an insert before it is acknowledged; 0 = off. A quorum of N
    fails every insert while fewer than N replicas of a shard are up (the spool keeps the events)."""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"not a ClickHouse cluster name: {self.name!r}")
        if self.insert_quorum < 0:
            raise ValueError("insert_quorum must be 0 (off) or a number of replicas")

    def settings(self) -> dict[str, Any]:
        """Settings of every statement on the cluster."""
        settings: dict[str, Any] = {
            # An insert into a Distributed table returns once every shard wrote its rows (not when they are
            # queued on the server the insert went to): a shard down fails the insert, and the spool keeps it.
            "insert_distributed_sync": 1,
            # IN/JOIN subqueries over Distributed tables read the local table of each shard: every pair of
            # tables Canary joins is sharded by account, so the rows that match are on the same shard.
            "distributed_product_mode": "local",
        }
        if self.insert_quorum:
            settings["insert_quorum"] = self.insert_quorum
            # Without enough replicas a quorum insert waits (600 s by default) before it fails; the writer would
            # sit on it for as long. Failing within seconds leaves the events in the spool, retried with backoff.
            settings["insert_quorum_timeout"] = QUORUM_TIMEOUT_MS
        return settings
