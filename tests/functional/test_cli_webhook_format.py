"""`canary alerts webhooks create URL --format slack` and `canary alerts rules create … --digest weekly`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def canary(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idp.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_webhooks_create_takes_a_format(tmp_path: Path) -> None:
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path)}
    assert canary(env, "migrate").returncode == 0
    created = json.loads(canary(env, "alerts", "webhooks", "create", "https://hooks.example.com/slack",
                                "--format", "slack", "--json").stdout)
    assert created["format"] == "slack" and created["secret"].startswith("whsec_")
    refused = canary(env, "alerts", "webhooks", "create", "https://hooks.example.com/x", "--format", "teams")
    assert refused.returncode == 2 and "invalid choice: 'teams'" in refused.stderr
    listed = json.loads(canary(env, "alerts", "webhooks", "list", "--json").stdout)
    assert [(e["url"], e["format"]) for e in listed] == [("https://hooks.example.com/slack", "slack")]
    assert "slack" in canary(env, "alerts", "webhooks", "list").stdout


def test_rules_create_takes_a_digest(tmp_path: Path) -> None:
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path)}
    assert canary(env, "migrate").returncode == 0
    created = json.loads(canary(env, "alerts", "rules", "create", "weekly", "--days", "7", "--email",
                                "owner@example.com", "--digest", "weekly", "--json").stdout)
    assert created["digest"] == "weekly"
    refused = canary(env, "alerts", "rules", "create", "hourly", "--days", "7", "--email", "owner@example.com",
                     "--digest", "hourly")
    assert refused.returncode == 2 and "invalid choice: 'hourly'" in refused.stderr
