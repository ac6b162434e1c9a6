"""The whole promise, end to end: `canary serve` notices an account going quiet and tells the owner once —
a signed webhook and an e-mail within a minute — and once more when the account comes back, across a restart.

Arrivals are awaited as conditions (the background loop runs every second here); "nothing new on later runs"
is checked after runs of the loop asked for and awaited (`AlertService.run_cycle`), not after a sleep."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from analytics.alerts import AlertService, create_rule, create_webhook_endpoint
from analytics.api import Analytics, Event
from idp.db import transaction
from tests.functional.conftest import Provider, start_provider
from tests.support.clickhouse import server_url_for
from tests.support.mail import Inbox
from tests.support.postgres import own_accounts_database
from tests.support.webhooks import Receiver


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - started


def alert_service(server: object) -> AlertService:
    """The alert service `canary serve` runs in the background."""
    service = server.server.config.app.state.alerts  # type: ignore[attr-defined]
    assert isinstance(service, AlertService)
    return service


def more_runs(server: object, count: int = 2) -> None:
    for _ in range(count):
        alert_service(server).run_cycle()


@pytest.fixture
def world(tmp_path: Path, database_url: str, clickhouse_server_url: str,
          smtp: tuple[Inbox, int]) -> Iterator[dict[str, object]]:
    url = server_url_for(f"canary_quiet_{uuid.uuid4().hex[:10]}")
    with own_accounts_database(database_url, tmp_path, "canary_quiet") as accounts_url:
        yield {"url": url, "tmp": tmp_path, "database_url": accounts_url, "smtp_port": smtp[1], "inbox": smtp[0]}
    from analytics.clickhouse import ServerEngine

    admin = ServerEngine(server_url_for("default"))
    admin.execute(f"DROP DATABASE IF EXISTS `{url.rsplit('/', 1)[1]}`")
    admin.close()


def serve(world: dict[str, object], name: str) -> tuple[Provider, object, Analytics]:
    analytics = Analytics.open(url=str(world["url"]), data_dir=Path(str(world["tmp"])) / name, flush_interval=0.2)
    analytics.migrate()
    prov, server = start_provider(Path(str(world["tmp"])) / name, str(world["database_url"]), analytics,
                                  alert_interval=1, smtp_host="127.0.0.1", smtp_port=int(str(world["smtp_port"])),
                                  smtp_tls="none", webhook_allow_private=True)  # the receiver is on loopback
    prov.extra["analytics"] = analytics
    return prov, server, analytics


def test_one_webhook_and_one_email_when_quiet_and_when_back(world: dict[str, object], receiver: str) -> None:
    inbox: Inbox = world["inbox"]  # type: ignore[assignment]
    prov, server, analytics = serve(world, "first")
    user = prov.user(email=f"quiet-{uuid.uuid4().hex[:6]}@example.com")
    now = datetime.now(UTC).replace(microsecond=0)
    analytics.accept([Event(uuid.uuid4(), user.id, "", "c", "report.viewed", now - timedelta(days=10), now, {})])
    analytics.flush(20)
    with transaction(prov.context.factory) as db:
        endpoint = create_webhook_endpoint(db, receiver, allow_private=True)
        secret = endpoint.secret
        create_rule(db, "quiet for a week", 7, webhook_ids=[endpoint.id], emails=["owner@example.com"])
    took = wait_for(lambda: len(Receiver.received) >= 1 and len(inbox.messages) >= 1, 60)
    assert took < 60
    more_runs(server)  # two more detector runs: nothing new
    server.stop()  # type: ignore[attr-defined]
    analytics.close()
    assert len(Receiver.received) == 1 and len(inbox.messages) == 1
    payload = Webhook(secret).verify(Receiver.received[0][1], Receiver.received[0][0])
    assert payload["type"] == "account.inactive" and payload["data"]["account"] == user.id
    assert b"owner@example.com" in inbox.messages[0][1] or inbox.messages[0][0] == ["owner@example.com"]

    # Restart: nothing is repeated. Then the account comes back through a real sign-in-free API event.
    prov, server, analytics = serve(world, "second")
    more_runs(server)
    assert len(Receiver.received) == 1 and len(inbox.messages) == 1
    client_id, secret_cc = prov.client(grant_types=["client_credentials"], scope="events:write", first_party=True)
    token = httpx.post(f"{prov.url}/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret_cc or "")).json()["access_token"]
    posted = httpx.post(f"{prov.url}/v1/events", content=json.dumps({"account": user.id, "name": "search"}),
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert posted.status_code == 202
    analytics.flush(20)
    wait_for(lambda: len(Receiver.received) >= 2 and len(inbox.messages) >= 2, 60)
    more_runs(server)
    server.stop()  # type: ignore[attr-defined]
    analytics.close()
    assert len(Receiver.received) == 2 and len(inbox.messages) == 2
    back = Webhook(secret).verify(Receiver.received[1][1], Receiver.received[1][0])
    assert back["type"] == "account.reactivated" and back["data"]["account"] == user.id
