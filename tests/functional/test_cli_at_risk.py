"""`canary activity at-risk` as an operator runs it, on a real ClickHouse server."""

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

from analytics.api import Analytics, Event
from tests.support.clickhouse import server_url_for


@pytest.fixture
def env(tmp_path: Path, clickhouse_server_url: str) -> Iterator[dict[str, str]]:
    database = f"canary_cli_risk_{uuid.uuid4().hex[:10]}"
    yield {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_ANALYTICS_URL": server_url_for(database)}
    from analytics.clickhouse import ServerEngine

    admin = ServerEngine(server_url_for("default"))
    admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
    admin.close()


def canary(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idp.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_at_risk_lists_who_is_going_quiet_and_why(env: dict[str, str], tmp_path: Path) -> None:
    assert canary(env, "migrate").returncode == 0
    users = {key: json.loads(canary(env, "users", "create", f"{key}@example.com", "--password-stdin",
                                    "--organization", org, "--json", stdin="password-123\n").stdout)
             for key, org in (("quiet", "acme"), ("busy", "acme"), ("elsewhere", "globex"))}
    now = datetime.now(UTC).replace(microsecond=0)
    events = [Event(uuid.uuid4(), users[key]["id"], "", "c", "report.viewed", now - timedelta(days=ago), now, {})
              for key, first in (("quiet", 6), ("busy", 0), ("elsewhere", 6)) for ago in range(first, 60)]
    analytics = Analytics.open(url=env["CANARY_ANALYTICS_URL"], data_dir=tmp_path / "writer")
    try:
        analytics.accept(events)
        analytics.flush(30)
    finally:
        analytics.close()

    rows = json.loads(canary(env, "activity", "at-risk", "--org", "acme", "--json").stdout)
    assert rows == [{"account": users["quiet"]["id"], "email": "quiet@example.com", "state": "going_quiet",
                     "score": 1.2, "last_seen": (now - timedelta(days=6)).date().isoformat(),
                     "explanation": "usually active 7 days a week; silent for 6 days, beyond its usual gaps of up "
                                    "to 1 day"}]
    everyone = json.loads(canary(env, "activity", "at-risk", "--json").stdout)
    assert {row["email"] for row in everyone} == {"quiet@example.com", "elsewhere@example.com"}
    table = canary(env, "activity", "at-risk", "--limit", "1").stdout
    assert "going_quiet" in table and "silent for 6 days" in table and len(table.strip().splitlines()) == 2
    unknown = canary(env, "activity", "at-risk", "--org", "nope")
    assert unknown.returncode != 0 and "nope" in unknown.stderr
