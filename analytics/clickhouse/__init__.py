"""How to reach ClickHouse: a server over the native protocol (``server``), or chDB embedded in this process
(``embedded``), behind one interface (``engine``); SQL text in ``sql``, the Native insert packet in ``native``;
what a cluster of servers adds in ``cluster``.
"""

from pathlib import Path

from analytics.clickhouse.cluster import Cluster
from analytics.clickhouse.embedded import EmbeddedEngine
from analytics.clickhouse.engine import ClickHouse, ClickHouseError, Rows, Statement
from analytics.clickhouse.relay import RelayEngine, reachable, socket_path
from analytics.clickhouse.server import ServerEngine

__all__ = ["ClickHouse", "ClickHouseError", "Cluster", "EmbeddedEngine", "RelayEngine", "Rows", "ServerEngine",
           "Statement", "open_engine"]


def open_engine(url: str | None, data_dir: Path, cluster: Cluster | None = None) -> ClickHouse:
    """The server at ``url`` (one of ``cluster`` when given), or chDB under ``data_dir / "clickhouse"`` when no
    URL is given — through the process that holds it when one does (``relay``)."""
    if url:
        return ServerEngine(url, cluster=cluster)
    if cluster is not None:
        raise ValueError("a ClickHouse cluster needs the URL of one of its servers")
    if reachable(socket_path(data_dir)):
        return RelayEngine(socket_path(data_dir))
    return EmbeddedEngine(data_dir / "clickhouse")
