"""Connections to a ClickHouse server, reused: clickhouse-driver clients kept idle between statements."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from analytics import observe
from analytics.clickhouse.engine import ClickHouseError

_T = TypeVar("_T")


class ClientPool:
    """clickhouse-driver clients of one database, made on first use (the database is created if missing, on
    every server of ``cluster`` when given).

    A client serves one statement at a time; one that failed is dropped, the others go back to the pool.
    """

    def __init__(self, database: str, cluster: str | None, params: dict[str, Any]) -> None:
        self.database = database
        self.cluster = cluster
        self.params = params
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._database_ready = False
        self.server_tz: ZoneInfo | None = None
        """The server's time zone, known once a client was made: naive DateTime values are in it."""
        self._closed = False

    def _new_client(self) -> Any:
        from clickhouse_driver import Client

        if not self._database_ready:
            with self._lock:
                if not self._database_ready:
                    bootstrap = Client(database="default", **self.params)
                    try:
                        found = bootstrap.execute("SELECT count() FROM system.databases WHERE name = %(name)s",
                                                  {"name": self.database})
                        if not found[0][0]:
                            # Only when missing: DDL on a cluster waits for every server, one of which may be down.
                            on_cluster = f" ON CLUSTER {self.cluster}" if self.cluster else ""
                            bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`{on_cluster}")
                        tz = bootstrap.execute("SELECT timezone()")[0][0]
                        self.server_tz = ZoneInfo(tz)
                    finally:
                        bootstrap.disconnect()
                    self._database_ready = True
        return Client(database=self.database, **self.params)

    def run(self, work: Callable[[Any], _T]) -> _T:
        """``work(client)`` on an idle client (or a new one); the driver's errors become ClickHouseError."""
        if self._closed:
            raise ClickHouseError("engine is closed")
        from clickhouse_driver import errors

        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = None
        try:
            if client is None:
                client = self._new_client()
            result = work(client)
        except (errors.Error, OSError, EOFError) as exc:
            if client is not None:
                client.disconnect()
            observe.count("clickhouse_errors")
            raise ClickHouseError(str(exc)) from exc
        except BaseException:
            if client is not None:
                client.disconnect()
            raise
        self._idle.put(client)
        return result

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().disconnect()
            except queue.Empty:
                return
