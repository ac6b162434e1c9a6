"""Where the schema's tables live: on one server as the migrations define them, or laid out on a cluster.

On a cluster (docs/cluster.md, "Layout") every table `t` of the schema becomes

* `t_local` on every server (`CREATE ... ON CLUSTER`): the same columns, sort key and partitions on the
  replicated variant of its engine (`ReplacingMergeTree(v)` → `ReplicatedReplacingMergeTree(path, replica, v)`),
  its ZooKeeper path `/clickhouse/tables/<cluster>/<database>/t_local/{shard}` (unique per cluster, database
  and table; `{shard}` and `{replica}` are the servers' macros);
* `t`, a `Distributed` table over the `t_local` of every shard, sharded by the table's key: readers and
  writers use the names they use on one server.

A table's sharding key is ``table.info["shard_by"]``, by default `cityHash64(account)`: every table holding an
account's events or activity keeps them on one shard, so rows that collapse or merge (the same event, the
same account and month) always meet on one shard, and the materialized views on each shard, which read that
shard's `events_local` and write its local targets, put their rows where a Distributed insert would.
A table with ``table.info["shard_by"] = EVERY_SERVER`` is not sharded: one replicated table holds all its rows
on every server (`schema_migrations`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from analytics.migrations.base import MaterializedView, create_table_sql

if TYPE_CHECKING:
    from analytics.clickhouse import ClickHouse

SHARD_BY_ACCOUNT = "cityHash64(account)"
EVERY_SERVER = "every server"
"""``info["shard_by"]`` of a table replicated whole on every server of the cluster."""
ON_CLUSTER = "on_cluster"
"""``info[ON_CLUSTER] = False``: a table made only on one server (a cluster's migration does without it)."""
LOCAL_SUFFIX = "_local"

Schema = sa.Table | MaterializedView
"""What a migration creates."""

_HEAD = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+) \(")
_ENGINE = re.compile(r"\) ENGINE = (\w*)MergeTree\(([^)]*)\)")
_FROM_EVENTS = re.compile(r"\bFROM events\b")


@dataclass(frozen=True)
class Topology:
    cluster: str | None = None
    """The cluster's name, None for one server."""
    database: str = "default"

    @classmethod
    def of(cls, engine: ClickHouse) -> Topology:
        cluster = engine.cluster
        return cls(cluster.name, engine.database) if cluster is not None else cls()

    def local(self, name: str) -> str:
        """The name of the table holding the rows of `name` on each server."""
        return name + LOCAL_SUFFIX if self.cluster else name

    def create(self, item: Schema) -> list[str]:
        """The statements creating a table or view (each `IF NOT EXISTS`)."""
        if isinstance(item, MaterializedView):
            return [self._view(item)]
        sql = create_table_sql(item)
        if self.cluster is None:
            return [sql]
        if not item.info.get(ON_CLUSTER, True):
            return []
        shard_by = item.info.get("shard_by", SHARD_BY_ACCOUNT)
        if shard_by == EVERY_SERVER:
            return [self._replicated(sql, item.name, shard=False)]
        if shard_by == SHARD_BY_ACCOUNT and "account" not in item.columns:
            raise ValueError(f"{item.name} has no account column: give it info={{'shard_by': ...}}")
        local = self.local(item.name)
        head = _HEAD.match(sql)
        engine = _ENGINE.search(sql)
        assert head is not None and engine is not None, sql
        columns = sql[head.end() : engine.start()]
        distributed = (
            f"CREATE TABLE IF NOT EXISTS {self._name(item.name)}{self._on_cluster()} ({columns})"
            f" ENGINE = Distributed({self.cluster}, {self._literal(self.database)}, {self._literal(local)}, {shard_by})"
        )
        return [self._replicated(sql, local, shard=True), distributed]

    def drop(self, name: str) -> list[str]:
        """The statements dropping a table or view and, on a cluster, its local tables (each `IF EXISTS`)."""
        if self.cluster is None:
            return [f"DROP TABLE IF EXISTS {name}"]
        return [f"DROP TABLE IF EXISTS {self._name(name)}{self._on_cluster()}",
                f"DROP TABLE IF EXISTS {self._name(self.local(name))}{self._on_cluster()}"]

    def alter_local(self, name: str, clause: str) -> str:
        """`ALTER TABLE` of the rows of `name` on every server (`DROP PARTITION`, ...)."""
        if self.cluster is None:
            return f"ALTER TABLE {name} {clause}"
        return f"ALTER TABLE {self._name(self.local(name))}{self._on_cluster()} {clause}"

    def partitions(self, name: str) -> str:
        """A query of the ids of the active partitions of `name`'s rows (on any server of the cluster)."""
        if self.cluster is None:
            return ("SELECT DISTINCT partition_id FROM system.parts"
                    f" WHERE database = currentDatabase() AND table = {self._literal(name)} AND active")
        return (
            f"SELECT DISTINCT partition_id FROM cluster({self._literal(self.cluster)}, system, parts)"
            f" WHERE database = {self._literal(self.database)}"
            f" AND table = {self._literal(self.local(name))} AND active"
        )

    def _literal(self, value: str) -> str:
        from analytics.clickhouse.sql import quote  # analytics.clickhouse imports this package

        return quote(value)

    def _name(self, name: str) -> str:
        return f"`{self.database}`.{name}"

    def _on_cluster(self) -> str:
        return f" ON CLUSTER {self.cluster}" if self.cluster else ""

    def _replicated(self, sql: str, local: str, *, shard: bool) -> str:
        """`sql` (a table's DDL for one server) as the DDL of `local` on every server, replicated."""
        path = f"/clickhouse/tables/{self.cluster}/{self.database}/{local}" + ("/{shard}" if shard else "")

        def engine(match: re.Match[str]) -> str:
            args = ", ".join(part for part in (self._literal(path), "'{replica}'", match.group(2)) if part)
            return f") ENGINE = Replicated{match.group(1)}MergeTree({args})"

        renamed = _HEAD.sub(f"CREATE TABLE IF NOT EXISTS {self._name(local)}{self._on_cluster()} (", sql, count=1)
        return _ENGINE.sub(engine, renamed, count=1)

    def _view(self, view: MaterializedView) -> str:
        if self.cluster is None:
            return view.ddl()
        select = _FROM_EVENTS.sub(f"FROM {self._name(self.local('events'))}", view.select)
        if select == view.select:
            raise ValueError(f"{view.name} does not read `events`")
        return (
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self._name(view.name)}{self._on_cluster()}"
            f" TO {self._name(self.local(view.target.name))} AS{select}"
        ).strip()
