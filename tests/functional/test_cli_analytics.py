"""`canary activity` and `canary alerts` as an operator runs them (cron included), on a real ClickHouse server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from analytics.api import Analytics, Event
from tests.support.clickhouse import server_url_for
from tests.support.mail import Inbox
from tests.support.webhooks import Receiver


@pytest.fixture
def env(tmp_path: Path, clickhouse_server_url: str) -> Iterator[dict[str, str]]:
    database = f"canary_cli_{uuid.uuid4().hex[:10]}"
    values = {**os.environ, "CANARY_DATA_DIR": str(tmp_path),
              "CANARY_ANALYTICS_URL": server_url_for(database),
              "CANARY_WEBHOOK_ALLOW_PRIVATE": "1"}  # the test receiver listens on loopback
    yield values
    from analytics.clickhouse import ServerEngine

    admin = ServerEngine(server_url_for("default"))
    admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
    admin.close()


def canary(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idp.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_inactive_accounts_account_summary_and_cron_alerts(env: dict[str, str], receiver: str,
                                                           tmp_path: Path) -> None:
    assert canary(env, "migrate").returncode == 0
    quiet = json.loads(canary(env, "users", "create", "quiet@example.com", "--password-stdin",
                              "--organization", "acme", "--json", stdin="password-123\n").stdout)
    busy = json.loads(canary(env, "users", "create", "busy@example.com", "--password-stdin",
                             "--organization", "acme", "--json", stdin="password-123\n").stdout)
    now = datetime.now(UTC).replace(microsecond=0)
    analytics = Analytics.open(url=env["CANARY_ANALYTICS_URL"], data_dir=tmp_path / "writer")
    try:
        events = [Event(uuid.uuid4(), quiet["id"], quiet["organization_id"], "c", "report.viewed",
                        now - timedelta(days=10), now, {}),
                  Event(uuid.uuid4(), busy["id"], busy["organization_id"], "c", "report.viewed",
                        now - timedelta(hours=1), now, {})]
        analytics.accept(events)
        analytics.flush(30)
    finally:
        analytics.close()

    inactive = json.loads(canary(env, "activity", "inactive", "--days", "7", "--org", "acme", "--json").stdout)
    assert [row["sub"] for row in inactive] == [quiet["id"]]
    assert inactive[0]["inactive_days"] >= 9
    table = canary(env, "activity", "inactive", "--days", "7")
    assert "quiet@example.com" in table.stdout and "busy@example.com" not in table.stdout
    summary = json.loads(canary(env, "activity", "account", "busy@example.com", "--json").stdout)
    assert summary["events_by_name"] == {"report.viewed": 1}
    bad = canary(env, "activity", "inactive", "--days", "-3")
    assert bad.returncode == 2 and "--days" in bad.stderr  # a usage error

    endpoint = json.loads(canary(env, "alerts", "webhooks", "create", receiver, "--json").stdout)
    assert endpoint["secret"].startswith("whsec_")
    assert canary(env, "alerts", "webhooks", "create", "ftp://example.com/x").returncode == 1
    too_long = canary(env, "alerts", "rules", "create", "forever", "--days", "1000000",
                      "--webhook", str(endpoint["id"]))
    assert too_long.returncode == 2 and "--days" in too_long.stderr and "3650" in too_long.stderr  # a usage error
    assert canary(env, "alerts", "rules", "create", "quiet a week", "--days", "7",
                  "--webhook", str(endpoint["id"])).returncode == 0
    unknown_kind = canary(env, "alerts", "rules", "create", "odd", "--days", "7", "--kind", "account.bored",
                          "--webhook", str(endpoint["id"]))
    assert unknown_kind.returncode == 1 and "account.going_quiet" in unknown_kind.stderr
    rhythm = canary(env, "alerts", "rules", "create", "by rhythm", "--days", "30", "--kind", "account.going_quiet",
                    "--webhook", str(endpoint["id"]), "--json")
    assert rhythm.returncode == 0 and json.loads(rhythm.stdout)["kind"] == "account.going_quiet"
    assert "account.going_quiet" in canary(env, "alerts", "rules", "list").stdout
    assert canary(env, "alerts", "rules", "delete", str(json.loads(rhythm.stdout)["id"])).returncode == 0
    listed = json.loads(canary(env, "alerts", "rules", "list", "--json").stdout)
    assert [(r["name"], r["kind"], r["threshold_days"], r["webhook_ids"]) for r in listed] == [
        ("quiet a week", "account.inactive", 7, [endpoint["id"]])]
    assert canary(env, "alerts", "run").returncode == 0
    assert canary(env, "alerts", "run").returncode == 0  # a second cron run sends nothing new
    assert len(Receiver.received) == 1
    headers, body = Receiver.received[0]
    payload = Webhook(endpoint["secret"]).verify(body, headers)
    assert payload["type"] == "account.inactive" and payload["data"]["account"] == quiet["id"]


def test_a_cron_run_sends_alert_mail_through_smtp(env: dict[str, str], smtp: tuple[Inbox, int],
                                                  tmp_path: Path) -> None:
    inbox, port = smtp
    assert canary(env, "migrate").returncode == 0
    quiet = json.loads(canary(env, "users", "create", "gone@example.com", "--password-stdin", "--json",
                              stdin="password-123\n").stdout)
    analytics = Analytics.open(url=env["CANARY_ANALYTICS_URL"], data_dir=tmp_path / "writer")
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        analytics.accept([Event(uuid.uuid4(), quiet["id"], "", "c", "report.viewed", now - timedelta(days=10), now,
                                {})])
        analytics.flush(30)
    finally:
        analytics.close()
    created = canary(env, "alerts", "rules", "create", "quiet a week", "--days", "7", "--email", "ops@example.com")
    assert created.returncode == 0 and "development outbox" in created.stderr  # no SMTP in this environment
    with_smtp = {**env, "CANARY_SMTP_HOST": "127.0.0.1", "CANARY_SMTP_PORT": str(port), "CANARY_SMTP_TLS": "none"}
    run = canary(with_smtp, "alerts", "run", "--json")
    assert run.returncode == 0, run.stderr
    assert [recipients for recipients, _ in inbox.messages] == [["ops@example.com"]]
    assert b"gone@example.com" in inbox.messages[0][1]
