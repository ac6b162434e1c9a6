"""A ClickHouse server over the native protocol (clickhouse-driver)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from analytics.clickhouse import native
from analytics.clickhouse.cluster import Cluster
from analytics.clickhouse.engine import ClickHouse, ClickHouseError, Rows, Statement
from analytics.clickhouse.pool import ClientPool
from analytics.clickhouse.sql import insert_row, render
from analytics.ingest import blocks
from analytics.migrations import EVENT_COLUMNS

_INSERT_EVENTS = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES"


class ServerEngine(ClickHouse):
    """A ClickHouse server at ``clickhouse+native://user:password@host:port/database``.

    Connections are made on first use, so constructing one never fails while the server is down. The
    database is created if missing (on every server of the cluster, when there is one).

    ``?alt_hosts=host2:port2,host3:port3`` in the URL names servers to connect to when the first is down
    (clickhouse-driver tries them in turn): on a cluster, other replicas of the shards, so that losing the
    server Canary is connected to does not stop ingest.
    """

    def __init__(self, url: str, *, cluster: Cluster | None = None, connect_timeout: float = 3.0,
                 receive_timeout: float = 60.0) -> None:
        parsed = sa.engine.make_url(url)
        if not parsed.drivername.startswith("clickhouse"):
            raise ValueError(f"not a ClickHouse URL: {parsed.drivername}")
        unknown = set(parsed.query) - {"alt_hosts"}
        if unknown:
            raise ValueError(f"unknown ClickHouse URL parameters: {', '.join(sorted(unknown))}")
        self.database = parsed.database or "default"
        self.cluster = cluster
        extra: dict[str, Any] = {}
        if "alt_hosts" in parsed.query:
            alt_hosts = parsed.query["alt_hosts"]
            extra["alt_hosts"] = alt_hosts if isinstance(alt_hosts, str) else ",".join(alt_hosts)
        if cluster is not None:
            extra["settings"] = cluster.settings()
        self._pool = ClientPool(self.database, cluster.name if cluster else None, {
            **extra,
            "host": parsed.host or "127.0.0.1",
            "port": parsed.port or 9000,
            "user": parsed.username or "default",
            "password": parsed.password or "",
            "connect_timeout": connect_timeout,
            "send_receive_timeout": receive_timeout,
            "sync_request_timeout": connect_timeout,
            "client_name": "canary",
        })

    def __repr__(self) -> str:
        return f"ServerEngine({self._pool.params['host']}:{self._pool.params['port']}/{self.database})"

    def _run(self, sql: str, data: Any = None, **kwargs: Any) -> Any:
        args = (sql,) if data is None else (sql, data)
        return self._pool.run(lambda client: client.execute(*args, **kwargs))

    def execute(self, statement: Statement) -> Rows:
        if isinstance(statement, sa.Insert) and statement.select is None:
            # Over the native protocol the rows of an INSERT travel as a data block, not in the SQL text.
            sql, row = insert_row(statement)
            self._run(sql, [row])
            return Rows()
        rows, columns = self._run(render(statement), with_column_types=True)
        tz = self._pool.server_tz or UTC
        return Rows(
            (tuple(_aware(value, tz) for value in row) for row in rows),
            [name for name, _type in columns],
        )

    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        block = blocks.combine(chunks)
        if block.rows:
            columns = block.typed_columns()
            self._pool.run(lambda client: native.send_insert(client, _INSERT_EVENTS, block.rows, columns))

    def ping(self) -> bool:
        try:
            self._run("SELECT 1")
        except ClickHouseError:
            return False
        return True

    def close(self) -> None:
        self._pool.close()


def _aware(value: Any, tz: ZoneInfo | Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return value.astimezone(UTC)
    if isinstance(value, list):
        return [_aware(item, tz) for item in value]
    if isinstance(value, tuple):
        return tuple(_aware(item, tz) for item in value)
    return value
