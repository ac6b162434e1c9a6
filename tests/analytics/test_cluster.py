"""Canary's schema on a ClickHouse cluster: the DDL it renders, and on the test cluster (`tests.support.cluster`)
migrations, inserts, backfills and retention on two shards, and a replicated pair holding the same rows."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from clickhouse_sqlalchemy import engines, types

from analytics import migrations, retention
from analytics.api import Analytics
from analytics.clickhouse import Cluster as ClusterSettings
from analytics.clickhouse import ServerEngine
from analytics.migrations import events, migrate, schema_migrations, usage_daily
from analytics.migrations.topology import Topology
from analytics.migrations.v003_record_active_days_per_account_and_month import ACCOUNT_ACTIVITY_MV
from idp.bootstrap import open_analytics
from idp.settings import Settings, SettingsError
from tests.analytics.conftest import make_event
from tests.analytics.on_cluster import cluster_database, cluster_engine, drop_database
from tests.support.cluster import REPLICAS, SHARDS, Cluster

ON_CLUSTER = Topology("canary_shards", "db1")


def test_one_server_renders_the_migrations_own_ddl() -> None:
    single = Topology()
    assert single.create(events) == [migrations.create_table_sql(events)]
    assert single.create(ACCOUNT_ACTIVITY_MV) == [ACCOUNT_ACTIVITY_MV.ddl()]
    assert single.drop("events") == ["DROP TABLE IF EXISTS events"]
    assert single.alter_local("events", "DROP PARTITION ID '202501'") == "ALTER TABLE events DROP PARTITION ID '202501'"


def test_a_cluster_gets_replicated_local_tables_behind_distributed_ones() -> None:
    local, distributed = ON_CLUSTER.create(events)
    assert local.startswith("CREATE TABLE IF NOT EXISTS `db1`.events_local ON CLUSTER canary_shards (")
    assert ("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/canary_shards/db1/events_local/{shard}',"
            " '{replica}', received_at)") in local
    assert local.endswith("PARTITION BY toYYYYMM(timestamp)\n ORDER BY (account, event_id)")
    assert distributed.startswith("CREATE TABLE IF NOT EXISTS `db1`.events ON CLUSTER canary_shards (")
    assert distributed.endswith("ENGINE = Distributed(canary_shards, 'db1', 'events_local', cityHash64(account))")
    # Tables without an account say how they are sharded.
    assert ON_CLUSTER.create(usage_daily)[1].endswith("'usage_daily_local', cityHash64(organization))")
    # Aggregating tables keep their variant, with no arguments after the replica.
    assert "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/canary_shards/db1/daily_activity_local/" \
           "{shard}', '{replica}')" in ON_CLUSTER.create(migrations.daily_activity)[0]


def test_schema_migrations_is_one_replicated_table_on_every_server() -> None:
    (ddl,) = ON_CLUSTER.create(schema_migrations)
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS `db1`.schema_migrations ON CLUSTER canary_shards (")
    assert "ReplicatedMergeTree('/clickhouse/tables/canary_shards/db1/schema_migrations', '{replica}')" in ddl


def test_views_read_and_write_the_local_tables_of_their_server() -> None:
    (ddl,) = ON_CLUSTER.create(ACCOUNT_ACTIVITY_MV)
    assert ddl.startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS `db1`.account_activity_mv ON CLUSTER canary_shards"
                          " TO `db1`.account_activity_local AS\nSELECT")
    assert "FROM `db1`.events_local\n" in ddl
    assert "FROM events" not in ddl


def test_drops_alters_and_partitions_reach_every_server() -> None:
    assert ON_CLUSTER.drop("daily_activity") == [
        "DROP TABLE IF EXISTS `db1`.daily_activity ON CLUSTER canary_shards",
        "DROP TABLE IF EXISTS `db1`.daily_activity_local ON CLUSTER canary_shards",
    ]
    assert ON_CLUSTER.alter_local("events", "DROP PARTITION ID '202501'") == (
        "ALTER TABLE `db1`.events_local ON CLUSTER canary_shards DROP PARTITION ID '202501'"
    )
    assert "FROM cluster('canary_shards', system, parts) WHERE database = 'db1' AND table = 'events_local'" in (
        ON_CLUSTER.partitions("events")
    )


def test_a_table_without_account_must_say_how_it_is_sharded() -> None:
    table = sa.Table("per_day", sa.MetaData(), sa.Column("day", types.Date, nullable=False),
                     engines.MergeTree(order_by=("day",)))
    with pytest.raises(ValueError, match="no account column"):
        ON_CLUSTER.create(table)


def test_cluster_settings() -> None:
    assert ClusterSettings("canary_shards").settings() == {
        "insert_distributed_sync": 1, "distributed_product_mode": "local",
    }
    assert ClusterSettings("c", insert_quorum=2).settings()["insert_quorum"] == 2
    with pytest.raises(ValueError):
        ClusterSettings("c; DROP")
    settings = Settings.from_env({"CANARY_ANALYTICS_URL": "clickhouse+native://h/db",
                                  "CANARY_ANALYTICS_CLUSTER": "events_cluster",
                                  "CANARY_ANALYTICS_INSERT_QUORUM": "2"})
    assert (settings.analytics_cluster, settings.analytics_insert_quorum) == ("events_cluster", 2)
    with pytest.raises(SettingsError, match="needs CANARY_ANALYTICS_URL"):
        Settings.from_env({"CANARY_ANALYTICS_CLUSTER": "events_cluster"})
    with pytest.raises(SettingsError, match="cluster name"):
        Settings.from_env({"CANARY_ANALYTICS_URL": "clickhouse+native://h/db", "CANARY_ANALYTICS_CLUSTER": "a-b"})
    assert Settings.from_env({}).analytics_cluster is None


def test_unknown_url_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown ClickHouse URL parameters: compression"):
        ServerEngine("clickhouse+native://127.0.0.1:9000/db?compression=lz4")


# On the test cluster.


@pytest.fixture
def shards(clickhouse_cluster: Cluster) -> Iterator[ServerEngine]:
    with cluster_database(clickhouse_cluster) as engine:
        migrate(engine)
        yield engine


def _on_server(cluster: Cluster, engine: ServerEngine, server: int) -> ServerEngine:
    return ServerEngine(cluster.url(engine.database, server))


def _shard_of(engine: ServerEngine, account: str) -> int:
    """The server holding `account` in canary_shards: slot cityHash64 % 2 of the shards' weights 1 and 1."""
    return 1 + int(engine.execute(f"SELECT cityHash64('{account}') % 2")[0][0])


def _local_accounts(engine: ServerEngine, table: str) -> set[str]:
    return {row[0] for row in engine.execute(f"SELECT DISTINCT account FROM {table}_local")}


def test_migrations_run_once_and_every_server_knows_it(clickhouse_cluster: Cluster, shards: ServerEngine) -> None:
    assert migrate(shards) == []
    every = {m.version for m in migrations.MIGRATIONS}
    for server in (1, 2):
        with _on_server(clickhouse_cluster, shards, server) as engine:
            assert migrations.applied_versions(engine) == every
            assert migrate(engine) == []
            tables = {row[0] for row in engine.execute("SHOW TABLES")}
            assert {"events", "events_local", "daily_activity_local", "account_windows_mv"} <= tables


def test_events_land_on_the_shard_of_their_account(clickhouse_cluster: Cluster, shards: ServerEngine) -> None:
    accounts = [f"acct-{n}" for n in range(12)]
    shards.insert_events([make_event(account=account, source="api") for account in accounts for _ in range(3)])
    expected = {server: {a for a in accounts if _shard_of(shards, a) == server} for server in (1, 2)}
    assert expected[1] and expected[2]
    for server in (1, 2):
        with _on_server(clickhouse_cluster, shards, server) as engine:
            # The views of each shard fill its own tables from its own events.
            for table in ("events", "daily_activity", "account_activity", "account_windows", "usage_events",
                          "usage_accounts"):
                assert _local_accounts(engine, table) == expected[server], (server, table)
    assert shards.execute("SELECT count(), uniqExact(account) FROM events") == [(36, 12)]


def test_backfills_write_each_row_to_the_shard_of_its_account_once(
    clickhouse_cluster: Cluster, shards: ServerEngine
) -> None:
    moments = [datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 7, tzinfo=UTC)]
    accounts = [f"acct-{n}" for n in range(8)]
    shards.insert_events([make_event(account=a, timestamp=t, received_at=t) for a in accounts for t in moments])
    before = shards.execute(
        "SELECT account, month, finalizeAggregation(days) FROM account_activity ORDER BY account, month"
    )
    # As if version 3 came now: its table emptied and refilled from the stored events, twice.
    for month in ("202601", "202602"):
        shards.execute(Topology.of(shards).alter_local("account_activity", f"DROP PARTITION ID '{month}'"))
    assert shards.execute("SELECT count() FROM account_activity") == [(0,)]
    version_3 = next(m for m in migrations.MIGRATIONS if m.version == 3)
    assert version_3.backfill is not None
    version_3.backfill(shards)
    version_3.backfill(shards)
    after = shards.execute(
        "SELECT account, month, groupBitOrMerge(days) FROM account_activity GROUP BY account, month"
        " ORDER BY account, month"
    )
    assert after == before
    for server in (1, 2):
        with _on_server(clickhouse_cluster, shards, server) as engine:
            mine = {a for a in accounts if _shard_of(shards, a) == server}
            assert _local_accounts(engine, "account_activity") == mine


def test_retention_drops_months_on_every_shard(clickhouse_cluster: Cluster, shards: ServerEngine) -> None:
    old, new = datetime(2025, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    accounts = [f"acct-{n}" for n in range(8)]
    shards.insert_events([make_event(account=a, timestamp=t, received_at=t) for a in accounts for t in (old, new)])
    dropped = retention.drop_expired_partitions(shards, 400, datetime(2026, 3, 15, tzinfo=UTC))
    assert sorted(dropped) == [("daily_activity", "202501"), ("events", "202501")]
    for server in (1, 2):
        with _on_server(clickhouse_cluster, shards, server) as engine:
            months = engine.execute("SELECT DISTINCT toYYYYMM(timestamp) FROM events_local")
            assert months == [(202603,)]
            assert engine.execute("SELECT DISTINCT toYYYYMM(month) FROM account_activity_local") == [(202603,)]


def test_a_replicated_pair_holds_the_same_rows(clickhouse_cluster: Cluster) -> None:
    database = f"canary_replicas_{uuid.uuid4().hex[:10]}"
    first = cluster_engine(clickhouse_cluster, database, name=REPLICAS, server=1, insert_quorum=2)
    third = cluster_engine(clickhouse_cluster, database, name=REPLICAS, server=3)
    try:
        migrate(first)
        assert migrations.applied_versions(third) == {m.version for m in migrations.MIGRATIONS}
        first.insert_events([make_event(account=f"a{n}") for n in range(50)])  # acknowledged by both replicas
        third.insert_events([make_event(account=f"b{n}") for n in range(50)])
        tables = ("events_local", "daily_activity_local", "account_windows_local", "usage_events_local")
        for engine in (first, third):
            for table in tables:
                engine.execute(f"SYSTEM SYNC REPLICA {table}")
        for table in tables:
            query = f"SELECT count() FROM {table}"
            assert first.execute(query) == third.execute(query) != [(0,)], table
        assert first.execute("SELECT count(), uniqExact(event_id) FROM events_local") == [(100, 100)]
    finally:
        first.close()
        third.close()
        drop_database(clickhouse_cluster, database, name=REPLICAS)


def test_alt_hosts_are_tried_when_the_first_server_does_not_answer(clickhouse_cluster: Cluster) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    url = (f"clickhouse+native://default@127.0.0.1:{closed}/default"
           f"?alt_hosts=127.0.0.1:{clickhouse_cluster.native_port(1)}")
    with ServerEngine(url, cluster=ClusterSettings(SHARDS)) as engine:
        assert engine.execute("SELECT substitution FROM system.macros WHERE macro = 'replica'") == [("ch1",)]


def test_canary_opened_from_its_settings_ingests_into_the_cluster(clickhouse_cluster: Cluster, tmp_path: Path) -> None:
    database = f"canary_cluster_{uuid.uuid4().hex[:10]}"
    settings = Settings.from_env({
        "CANARY_DATA_DIR": str(tmp_path), "CANARY_ANALYTICS_URL": clickhouse_cluster.url(database, 2),
        "CANARY_ANALYTICS_CLUSTER": SHARDS,
    })
    analytics = open_analytics(settings)
    try:
        assert isinstance(analytics, Analytics)
        assert analytics.clickhouse.cluster == ClusterSettings(SHARDS)
        analytics.migrate()
        assert analytics.accept([make_event(account=f"acct-{n % 9}") for n in range(90)]) == 90
        analytics.flush(timeout=30)
        assert analytics.clickhouse.execute("SELECT count(), uniqExact(account) FROM events") == [(90, 9)]
        on_two = analytics.clickhouse.execute("SELECT count() FROM events_local")[0][0]
        assert 0 < on_two < 90
    finally:
        analytics.close()
        drop_database(clickhouse_cluster, database)
