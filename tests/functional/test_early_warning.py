"""Early warning, end to end: `canary serve` with two rules on one signed webhook endpoint — one that fires on
`account.going_quiet` (each account's own rhythm), one on `account.inactive` after a fixed 14 days. A daily
user and a monthly user both fall silent; the provider's clock moves a day at a time, each day awaiting a real
run of the background detector (`AlertService.run_cycle`).

The daily user's `account.going_quiet` arrives after five silent days, while the fixed rule is still silent;
the monthly user, after the same silence, is not flagged — not then, and not when the fixed rule reports it at
14 days. Each transition is notified once, and the signature verifies as Standard Webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from analytics.alerts import AlertService, create_rule, create_webhook_endpoint
from analytics.api import Analytics, Event
from analytics.clickhouse import ServerEngine
from idp.db import transaction
from tests.functional.conftest import Provider, ServerThread, start_provider
from tests.support.clickhouse import server_url_for
from tests.support.postgres import own_accounts_database
from tests.support.webhooks import Receiver

DAY = 86_400


@pytest.fixture
def early(tmp_path: Path, database_url: str, clickhouse_server_url: str
          ) -> Iterator[tuple[Provider, ServerThread, Analytics]]:
    """`canary serve` on a ClickHouse database and an accounts database of its own (other tests' providers and
    their alert loops share the session's), its detector running every second."""
    own = f"canary_early_{uuid.uuid4().hex[:10]}"
    url = server_url_for(own)
    with own_accounts_database(database_url, tmp_path, "canary_early") as accounts_url:
        analytics = Analytics.open(url=url, data_dir=tmp_path / "data", flush_interval=0.2)
        analytics.migrate()
        prov, server = start_provider(tmp_path / "data", accounts_url, analytics, alert_interval=1,
                                      webhook_allow_private=True)  # the receiver listens on loopback
        yield prov, server, analytics
        server.stop()
        analytics.close()
    admin = ServerEngine(server_url_for("default"))
    admin.execute(f"DROP DATABASE IF EXISTS `{own}`")
    admin.close()


def received(secret: str) -> list[dict[str, Any]]:
    return [Webhook(secret).verify(body, headers) for headers, body in Receiver.received]


def test_a_daily_users_silence_is_heard_before_the_fixed_rule_and_a_monthly_users_is_not(
        early: tuple[Provider, ServerThread, Analytics], receiver: str) -> None:
    prov, server, analytics = early
    daily = prov.user(email=f"daily-{uuid.uuid4().hex[:6]}@example.com")
    monthly = prov.user(email=f"monthly-{uuid.uuid4().hex[:6]}@example.com")
    now = prov.clock.now().replace(microsecond=0)
    events = [Event(uuid.uuid4(), daily.id, "", "c", "report.viewed", now - timedelta(days=ago), now, {}, "api")
              for ago in range(0, 61)]
    events += [Event(uuid.uuid4(), monthly.id, "", "c", "report.viewed", now - timedelta(days=ago), now, {}, "api")
               for ago in (0, 30, 60, 90)]
    analytics.accept(events)
    analytics.flush(20)
    with transaction(prov.context.factory) as db:
        endpoint = create_webhook_endpoint(db, receiver, allow_private=True)
        secret = endpoint.secret
        adaptive = create_rule(db, "going quiet", 14, webhook_ids=[endpoint.id], kind="account.going_quiet").id
        fixed = create_rule(db, "quiet for two weeks", 14, webhook_ids=[endpoint.id]).id
    service = server.server.config.app.state.alerts  # type: ignore[union-attr]
    assert isinstance(service, AlertService)
    seen: dict[int, list[tuple[str, str]]] = {}
    for day in range(1, 16):
        prov.clock.advance(DAY)
        service.run_cycle()
        seen[day] = [(p["type"], p["data"]["account"]) for p in received(secret)]
    service.run_cycle()
    payloads = received(secret)
    by_rule = {rule: [(p["type"], p["data"]["account"]) for p in payloads if p["data"]["rule_id"] == rule]
               for rule in (adaptive, fixed)}

    # Day 4 of silence: nothing yet; day 5: the daily user is going quiet, and the fixed rule says nothing.
    assert seen[4] == []
    assert seen[5] == [("account.going_quiet", daily.id)]
    quiet = next(p for p in payloads if p["type"] == "account.going_quiet")
    assert quiet["data"]["explanation"] == ("usually active 7 days a week; silent for 5 days, beyond its usual "
                                            "gaps of up to 1 day")
    assert quiet["data"]["last_seen"] == now.astimezone(UTC).date().isoformat()
    # The fixed rule reports both at 14 days; the rhythm never flags the monthly user, who is on its rhythm.
    assert seen[13] == seen[5]
    assert sorted(seen[14]) == sorted([("account.going_quiet", daily.id), ("account.inactive", daily.id),
                                       ("account.inactive", monthly.id)])
    assert by_rule[adaptive] == [("account.going_quiet", daily.id)]
    assert sorted(by_rule[fixed]) == sorted([("account.inactive", daily.id), ("account.inactive", monthly.id)])
    assert len(payloads) == 3  # each transition once, through 16 runs
    assert json.loads(Receiver.received[0][1])["data"]["rule_kind"] == "account.going_quiet"
