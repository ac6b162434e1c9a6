"""A shard and a replica stopped during ingest and started again: every event Canary acknowledged (202) is stored
exactly once, none is lost.

A resource server posts batches without pause to a live Canary whose analytics write to server 1 of the cluster.
While a shard is down the writer's inserts fail (the Distributed table inserts synchronously) and the spool keeps
the events; Canary goes on answering 202. While a replica is down the other replica takes the inserts, and events
stay readable; when it is the server Canary writes to, Canary reconnects to the one its URL's ``alt_hosts``
names. Afterwards the events are read through the Distributed table with FINAL, and each server's local
table is merged (``OPTIMIZE … FINAL``) and counted, so that a retried insert left twice would show.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from clickhouse_driver.errors import ServerException

from analytics.clickhouse import ClickHouseError, ServerEngine
from analytics.clickhouse import Cluster as ClusterSettings
from analytics.clickhouse.cluster import QUORUM_TIMEOUT_MS
from analytics.ingest.model import Event
from analytics.migrations import migrate
from tests.cluster.conftest import Canary, coordinated, query
from tests.cluster.poster import EVENT_NAME, Posted, Poster
from tests.support.cluster import REPLICAS, SHARDS, Cluster

LOCAL = "events_local"
WHERE = f"name = '{EVENT_NAME}'"
OUTAGE_SECONDS = 2.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def wait_drained(canary: Canary, timeout: float = 45.0) -> None:
    """The writer empties the spool by itself once ClickHouse takes inserts again (after its back-off)."""
    wait_until(lambda: canary.analytics.condition().spool_rows == 0,
               f"the spool drained ({canary.analytics.condition().spool_rows} events left)", timeout)


def optimize(canary: Canary, server: int, timeout: float = 40.0) -> None:
    """``OPTIMIZE … FINAL`` of the server's local table. A replica that was killed becomes leader again only when
    ZooKeeper has expired its old session (up to the session timeout): until then only the leader merges."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            canary.query(server, f"OPTIMIZE TABLE {LOCAL} FINAL")
            return
        except ServerException as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"server {server} would not merge within {timeout} s") from error
            time.sleep(0.5)


def local_rows(canary: Canary, server: int) -> int:
    return int(canary.query(server, f"SELECT count() FROM {LOCAL} WHERE {WHERE}")[0][0])


def readable(canary: Canary, ids: set[str], server: int = 1) -> set[str]:
    """Which of ``ids`` a reader finds through the Distributed table on ``server``."""
    rows = canary.query(server, f"SELECT DISTINCT toString(event_id) FROM events WHERE {WHERE}")
    return ids & {row[0] for row in rows}


def outage(poster: Poster, seconds: float = OUTAGE_SECONDS, events: int = 300) -> float:
    """Post through a fault for at least ``seconds`` and ``events`` acknowledged events; returns its start."""
    started, target = time.monotonic(), poster.acknowledged + events
    poster.wait_for(lambda: time.monotonic() - started >= seconds and poster.acknowledged >= target,
                    f"{events} events acknowledged during the fault")
    return started


def assert_posting_went_on(posted: Posted) -> None:
    assert posted.refused == [] and posted.unanswered == [], "Canary answered every request 202 during the fault"


def assert_stored_exactly_once(canary: Canary, posted: Posted, locals_: dict[int, str]) -> None:
    """Every acknowledged event is stored once: through the Distributed table (FINAL), and on each server named
    in ``locals_`` (server → "shard" or "replica") after the local table is merged.

    Events of requests that got no answer may be stored or not, but once at most.
    """
    acknowledged = posted.acknowledged_ids()
    maybe = {i for ids in posted.unanswered for i in ids}
    final = [row[0] for row in canary.query(1, f"SELECT toString(event_id) FROM events FINAL WHERE {WHERE}")]
    assert len(final) == len(set(final)), "an event read twice through the Distributed table with FINAL"
    assert acknowledged - set(final) == set(), f"{len(acknowledged - set(final))} acknowledged events lost"
    assert set(final) - acknowledged - maybe == set(), "events stored that were never posted"
    shard_rows = 0
    for server, role in locals_.items():
        optimize(canary, server)
        rows, distinct = canary.query(server, f"SELECT count(), uniqExact(event_id) FROM {LOCAL} WHERE {WHERE}")[0]
        assert rows == distinct, f"server {server}: {rows - distinct} events stored twice after OPTIMIZE FINAL"
        if role == "replica":
            ids = {row[0] for row in canary.query(server, f"SELECT toString(event_id) FROM {LOCAL} WHERE {WHERE}")}
            assert ids == set(final), f"replica on server {server} differs by {len(ids ^ set(final))} events"
        else:
            shard_rows += rows
    if "shard" in locals_.values():
        assert shard_rows == len(final), "the shards' local tables hold other events than the Distributed one"


@pytest.mark.timeout(150)
@pytest.mark.parametrize("fault", ["stop", "kill"])
def test_shard_down_during_ingest_spool_keeps_events_and_none_is_lost_or_doubled(
        canary_factory: Callable[..., Canary], fault: str) -> None:
    canary = canary_factory(SHARDS)
    cluster, analytics = canary.cluster, canary.analytics
    with Poster(canary.url, canary.token, canary.accounts) as poster:
        poster.wait_acknowledged(200)
        poster.wait_for(lambda: local_rows(canary, 1) > 0 and local_rows(canary, 2) > 0,
                        "events on both shards before the fault")
        getattr(cluster, f"{fault}_server")(2)
        failures = analytics.writer.failures
        # Canary goes on acknowledging; the writer's inserts fail and the spool holds the events.
        outage(poster)
        poster.wait_for(lambda: analytics.writer.failures >= failures + 2, "the writer's inserts failing")
        held = analytics.condition().spool_rows
        assert held > 0, "the spool holds the events while a shard is down"
        cluster.start_server(2)
        poster.wait_acknowledged(200)
    posted = poster.posted
    assert_posting_went_on(posted)
    wait_drained(canary)
    assert_stored_exactly_once(canary, posted, {1: "shard", 2: "shard"})


def replica_outage(canary: Canary, stopped: int, reader: int) -> None:
    """Stop replica ``stopped`` during ingest: posting goes on, what is acknowledged meanwhile is readable through
    ``reader``; start it again, and both replicas end up with every acknowledged event once."""
    cluster = canary.cluster
    with Poster(canary.url, canary.token, canary.accounts) as poster:
        poster.wait_acknowledged(200)
        poster.wait_for(lambda: local_rows(canary, 3) > 0, "events replicated to server 3 before the fault")
        cluster.stop_server(stopped)
        down_at = outage(poster)
        during = poster.acknowledged_ids(since=down_at)
        assert during
        poster.wait_for(lambda: readable(canary, during, server=reader) == during,
                        f"events acknowledged while server {stopped} is down readable through server {reader}")
        cluster.start_server(stopped)
        poster.wait_acknowledged(200)
    posted = poster.posted
    assert_posting_went_on(posted)
    wait_drained(canary)
    for server in (1, 3):
        canary.query(server, f"SYSTEM SYNC REPLICA {LOCAL}")
    assert_stored_exactly_once(canary, posted, {1: "replica", 3: "replica"})


@pytest.mark.timeout(150)
def test_replica_down_during_ingest_ingest_goes_on_and_both_replicas_catch_up(
        canary_factory: Callable[..., Canary]) -> None:
    replica_outage(canary_factory(REPLICAS), stopped=3, reader=1)


@pytest.mark.timeout(150)
def test_replica_canary_writes_to_down_during_ingest_alt_hosts_take_over(
        canary_factory: Callable[..., Canary]) -> None:
    """The URL names server 1 and, in ``alt_hosts``, the other replica: ingest goes on while server 1 is down."""
    replica_outage(canary_factory(REPLICAS, alt_hosts=(3,)), stopped=1, reader=3)


@pytest.mark.timeout(120)
def test_a_quorum_insert_without_its_replicas_fails_within_seconds_and_lands_once_when_they_are_back(
        servers_back: Cluster) -> None:
    """With CANARY_ANALYTICS_INSERT_QUORUM=2 and one of two replicas down, an insert fails in seconds (the writer
    keeps the events in the spool and retries) instead of holding the writer for ClickHouse's 600 s default."""
    database = f"canary_quorum_{uuid.uuid4().hex[:10]}"
    engine = ServerEngine(servers_back.url(database, 1), cluster=ClusterSettings(REPLICAS, insert_quorum=2))
    try:
        migrate(engine)
        now = datetime.now(UTC).replace(microsecond=0)
        event = Event(event_id=uuid.uuid4(), account="quorum-account", organization="", client_id="c",
                      name=EVENT_NAME, timestamp=now, received_at=now, properties={}, source="api")
        servers_back.stop_server(3)
        started = time.monotonic()
        with pytest.raises(ClickHouseError):
            engine.insert_events([event])
        assert time.monotonic() - started < QUORUM_TIMEOUT_MS / 1000 + 10
        servers_back.start_server(3)
        coordinated(servers_back)
        deadline = time.monotonic() + 60
        while True:  # what the writer does: retry the same rows until an insert succeeds
            try:
                engine.insert_events([event])
                break
            except ClickHouseError:
                assert time.monotonic() < deadline, "the quorum insert kept failing with both replicas up"
                time.sleep(0.5)
        for server in (1, 3):
            rows = query(servers_back, server, f"SYSTEM SYNC REPLICA {LOCAL}", database)
            rows = query(servers_back, server, f"SELECT count() FROM {LOCAL} FINAL", database)
            assert rows == [(1,)], server
    finally:
        engine.close()
        query(servers_back, 1, f"DROP DATABASE IF EXISTS `{database}` ON CLUSTER {REPLICAS}")
