"""Three `canary serve` nodes on one PostgreSQL database and one ClickHouse server database, each with its own
data directory and spool, as behind a proxy: events posted to different nodes land once, an account crossing
its inactivity threshold is notified once whichever node detects it, and a delivery cut short by a node killed
while sending it is sent by another node once its claim expires, then never again. Nodes started at once on a new
database all start."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from analytics.alerts.signing import sign
from analytics.clickhouse import ServerEngine
from idp.cli.serve import prepare
from idp.migrate import migrate_sql
from idp.oauth.models import Client
from idp.settings import Settings
from tests.support.nodes import HoldingReceiver, Node, Received, canary, start_nodes
from tests.support.postgres import fresh_postgres_database

WEBHOOK_TIMEOUT = 4
CLAIM_SECONDS = 6
"""Short, so that a delivery whose sender died is sent again within seconds."""
INTERVAL = 1


@dataclass
class Cluster:
    env: dict[str, str]
    nodes: list[Node]
    receiver: HoldingReceiver
    accounts_url: str
    analytics_url: str
    secret: str
    token: str

    def sql(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        engine = create_engine(self.accounts_url)
        try:
            with engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(text(statement), params)]
        finally:
            engine.dispose()

    def user(self, email: str) -> str:
        created = canary(self.env, "users", "create", email, "--password-stdin", "--json", stdin="password-123\n")
        assert created.returncode == 0, created.stderr
        return str(json.loads(created.stdout)["id"])

    def post(self, node: Node, account: str, when: datetime) -> None:
        posted = httpx.post(f"{node.url}/v1/events",
                            json={"account": account, "name": "report.viewed", "timestamp": when.isoformat()},
                            headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        assert posted.status_code == 202, posted.text

    def rule(self, days: int) -> None:
        endpoint = json.loads(_ok(canary(self.env, "alerts", "webhooks", "create", self.receiver.url,
                                         "--secret", self.secret, "--json")))
        _ok(canary(self.env, "alerts", "rules", "create", "quiet accounts", "--days", str(days),
                   "--webhook", str(endpoint["id"]), "--json"))

    def deliveries(self) -> list[dict[str, Any]]:
        return self.sql("SELECT message_id, account, status, attempts, delivered_at FROM alert_deliveries "
                        "ORDER BY id")

    def live(self) -> list[int]:
        return [node.pid for node in self.nodes if node.process.poll() is None]


def _ok(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture
def accounts_url() -> Iterator[str]:
    with fresh_postgres_database("canary_nodes") as url:
        yield url


@pytest.fixture
def cluster(accounts_url: str, server_database: str, tmp_path: Path) -> Iterator[Cluster]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    # One public issuer for every node, as behind a proxy (nothing listens there: each node is reached directly).
    env.update(CANARY_ISSUER="http://127.0.0.1:9", CANARY_DATABASE_URL=accounts_url,
               CANARY_ANALYTICS_URL=server_database, CANARY_DATA_DIR=str(tmp_path / "cli"),
               CANARY_LOG_LEVEL="warning", CANARY_WEBHOOK_ALLOW_PRIVATE="1",
               CANARY_ALERT_INTERVAL=str(INTERVAL), CANARY_WEBHOOK_TIMEOUT=str(WEBHOOK_TIMEOUT),
               CANARY_ALERT_CLAIM_SECONDS=str(CLAIM_SECONDS))
    _ok(canary(env, "migrate"))
    nodes: list[Node] = []
    receiver = HoldingReceiver(lambda: [node.pid for node in nodes]).start()
    try:
        nodes.extend(start_nodes(3, env, tmp_path / "nodes"))
        client = json.loads(_ok(canary(env, "clients", "create", "Orders API", "--grant-type", "client_credentials",
                                       "--scope", "events:write", "--first-party", "--json")))
        token = httpx.post(f"{nodes[0].url}/token", data={"grant_type": "client_credentials",
                                                          "scope": "events:write"},
                           auth=(client["client_id"], client["client_secret"]), timeout=30)
        assert token.status_code == 200, token.text
        yield Cluster(env, nodes, receiver, accounts_url, server_database,
                      "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", token.json()["access_token"])
    finally:
        receiver.stop()
        for node in nodes:
            node.stop()


def _verified(cluster: Cluster, request: Received) -> dict[str, Any]:
    """The notification's body, once its Standard Webhooks signature checks out."""
    h = request.headers
    assert h["webhook-signature"] == sign(cluster.secret, h["webhook-id"], int(h["webhook-timestamp"]), request.body)
    body: dict[str, Any] = json.loads(request.body)
    return body


def test_events_land_once_and_each_crossing_is_notified_once_across_three_nodes(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    quiet = [cluster.user(f"quiet-{i}@example.com") for i in range(3)]
    active = cluster.user("active@example.com")
    cluster.user("new@example.com")  # never active, created today: not inactive at 7 days
    for node, account in zip(cluster.nodes, quiet, strict=True):  # each node spools one of them
        cluster.post(node, account, now - timedelta(days=10))
    cluster.post(cluster.nodes[1], active, now)
    cluster.rule(days=7)

    received = cluster.receiver.wait_for(3, timeout=60)
    deadline = time.monotonic() + 30
    while any(d["status"] != "delivered" for d in cluster.deliveries()):
        assert time.monotonic() < deadline, cluster.deliveries()
        time.sleep(0.2)
    time.sleep(3 * INTERVAL + 1)  # every node has run detection and delivery again since

    received = list(cluster.receiver.received)
    assert len(received) == 3, [r.headers["webhook-id"] for r in received]
    bodies = [_verified(cluster, r) for r in received]
    assert sorted(b["data"]["account"] for b in bodies) == sorted(quiet)
    assert {b["type"] for b in bodies} == {"account.inactive"}
    assert len({r.headers["webhook-id"] for r in received}) == 3
    assert {r.sender for r in received} <= {node.pid for node in cluster.nodes}
    deliveries = cluster.deliveries()
    assert sorted(d["message_id"] for d in deliveries) == sorted(r.headers["webhook-id"] for r in received)
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 1)] * 3
    states = cluster.sql("SELECT account, state FROM alert_account_states")
    assert sorted((s["account"], s["state"]) for s in states) == sorted((a, "inactive") for a in quiet)

    # Each node's spool drained its own events into the one ClickHouse database, each event once.
    events = ServerEngine(cluster.analytics_url)
    try:
        counts = {row["account"]: row["n"] for row in events.execute(
            "SELECT account, count() AS n FROM events WHERE source != 'idp' GROUP BY account").dicts()}
    finally:
        events.close()
    assert counts == {**{a: 1 for a in quiet}, active: 1}


def test_a_delivery_whose_node_is_killed_while_sending_is_sent_by_another_node_once(cluster: Cluster) -> None:
    account = cluster.user("quiet@example.com")
    cluster.post(cluster.nodes[2], account, datetime.now(UTC) - timedelta(days=10))
    cluster.receiver.hold_next = True
    cluster.rule(days=7)

    [first] = cluster.receiver.wait_for(1, timeout=60)
    assert cluster.receiver.held.wait(10)
    [sender] = [node for node in cluster.nodes if node.pid == first.sender]  # the node holding the delivery
    [pending] = cluster.deliveries()
    assert (pending["status"], pending["attempts"]) == ("pending", 0)
    sender.kill()
    cluster.receiver.release()

    # Another node sends it once the claim expires: the same message, signed again.
    second = cluster.receiver.wait_for(2, timeout=CLAIM_SECONDS + 30)[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert second.body == first.body
    assert second.sender in cluster.live() and second.sender != sender.pid
    assert second.at - first.at >= CLAIM_SECONDS - 1.5
    _verified(cluster, second)

    deadline = time.monotonic() + 30
    while cluster.deliveries()[0]["status"] != "delivered":
        assert time.monotonic() < deadline, cluster.deliveries()
        time.sleep(0.2)
    time.sleep(3 * INTERVAL + 1)  # every live node has run delivery again since: nobody sends it again
    assert len(cluster.receiver.received) == 2
    [delivery] = cluster.deliveries()
    # The killed node's attempt was never recorded: it neither counts as a failure nor delays the retry.
    assert (delivery["message_id"], delivery["status"], delivery["attempts"]) == (
        first.headers["webhook-id"], "delivered", 1)
    assert delivery["delivered_at"] is not None


def test_nodes_preparing_a_new_database_at_once_all_start(accounts_url: str, tmp_path: Path) -> None:
    count = 6
    settings = [Settings(issuer="https://id.example.com", data_dir=tmp_path / f"node-{i}", database_url=accounts_url)
                for i in range(count)]
    migrate_sql(settings[0])
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def node(node_settings: Settings) -> None:
        start.wait(30)
        try:
            prepare(node_settings)  # what `canary serve` does before it listens
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=node, args=(s,)) for s in settings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = create_engine(accounts_url)
    try:
        with engine.connect() as conn:  # the dashboard's client and the account page's
            assert conn.scalar(select(func.count()).select_from(Client.__table__)) == 2
    finally:
        engine.dispose()
