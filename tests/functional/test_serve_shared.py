"""Every `canary` command while `canary serve` runs on the embedded default: the serving process holds chDB and
shares it on a socket in the data directory; a second `canary serve` on the directory says so and stops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.functional.conftest import free_port


def canary(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idp.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "canary serve did not come up"
        time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # A short path: a Unix socket's path holds at most 107 bytes, and pytest's temporary paths can be longer.
    path = Path(tempfile.mkdtemp(prefix="canary-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def served(data_dir: Path) -> Iterator[tuple[dict[str, str], str, subprocess.Popen[str]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    env.update(CANARY_DATA_DIR=str(data_dir), CANARY_PORT=str(port), CANARY_LOG_LEVEL="warning",
               CANARY_ALERT_INTERVAL="3600")
    process = subprocess.Popen([sys.executable, "-m", "idp.cli", "serve"], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://localhost:{port}"  # CANARY_ISSUER unset: the issuer follows the port
    try:
        wait_until_up(url, process)
        yield env, url, process
    finally:
        stop(process)
        if process.stderr is not None:
            process.stderr.close()


def test_every_command_works_while_the_embedded_server_runs(served: tuple[dict[str, str], str,
                                                                          subprocess.Popen[str]],
                                                            data_dir: Path) -> None:
    env, url, process = served
    assert httpx.get(f"{url}/.well-known/openid-configuration").json()["issuer"] == url
    sock = data_dir / "clickhouse.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600

    user = json.loads(canary(env, "users", "create", "ada@example.com", "--password-stdin", "--organization",
                             "acme", "--json", stdin="password-123\n").stdout)
    client = json.loads(canary(env, "clients", "create", "Orders API", "--grant-type", "client_credentials",
                               "--scope", "events:write", "--first-party", "--json").stdout)
    token = httpx.post(f"{url}/token", data={"grant_type": "client_credentials", "scope": "events:write"},
                       auth=(client["client_id"], client["client_secret"])).json()["access_token"]
    posted = httpx.post(f"{url}/v1/events", json={"account": user["id"], "name": "report.viewed"},
                        headers={"Authorization": f"Bearer {token}"})
    assert posted.status_code == 202, posted.text

    runs = {
        "migrate": canary(env, "migrate"),
        "inactive": canary(env, "activity", "inactive", "--days", "1", "--json"),
        "alerts": canary(env, "alerts", "run"),
    }
    deadline = time.monotonic() + 30
    while True:  # the server's writer moves the event from its spool into chDB within a second or so
        summary = canary(env, "activity", "account", "ada@example.com", "--json")
        assert summary.returncode == 0, summary.stderr
        if json.loads(summary.stdout)["events_by_name"] == {"report.viewed": 1}:
            break
        assert time.monotonic() < deadline, summary.stdout
        time.sleep(0.5)
    for name, run in runs.items():
        assert run.returncode == 0 and "Traceback" not in run.stderr, (name, run.stderr)
    assert process.poll() is None

    second = canary({**env, "CANARY_PORT": str(free_port())}, "serve")
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "already running" in lines[0] and str(data_dir) in lines[0], second.stderr
    assert process.poll() is None


def test_commands_open_chdb_themselves_once_the_server_has_stopped(
        served: tuple[dict[str, str], str, subprocess.Popen[str]], data_dir: Path) -> None:
    env, _url, process = served
    created = canary(env, "users", "create", "bob@example.com", "--password-stdin", stdin="a long enough passphrase\n")
    assert created.returncode == 0
    stop(process)
    assert not (data_dir / "clickhouse.sock").exists()
    summary = canary(env, "activity", "account", "bob@example.com", "--json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["events_by_name"] == {}
