"""A real ``canary serve`` process stopped and started again while the event client is sending: nothing that
was queued is lost, nothing is counted twice, and the events show up in ``canary activity account``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from analytics.clickhouse import ServerEngine
from canary_resource import EventClient
from idp.accounts.service import find_user_by_email
from tests.kit.conftest import free_port
from tests.support.clickhouse import server_url_for
from tests.support.demo import start_demo as demo_server


def start_demo(env: dict[str, str]) -> tuple[subprocess.Popen[str], dict]:
    """``canary serve --demo``, and the demo user and clients it prints."""
    process, demo, _text = demo_server(env)
    return process, demo


class Served:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.issuer = env["CANARY_ISSUER"]
        self.process: subprocess.Popen[str] | None = None

    def start(self, demo: bool = False) -> dict:
        printed: dict = {}
        if demo:
            self.process, printed = start_demo(self.env)
        else:
            self.process = subprocess.Popen([sys.executable, "-m", "idp.cli", "serve"], env=self.env, text=True,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.issuer}/healthz").status_code == 200:
                    return printed
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and self.process.poll() is None, "canary serve did not come up"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "idp.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def served(clickhouse_server_url: str, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    database = f"canary_kit_restart_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_PORT": str(port),
           "CANARY_ISSUER": f"http://127.0.0.1:{port}", "CANARY_LOG_LEVEL": "warning",
           "CANARY_ANALYTICS_URL": server_url_for(database)}
    subprocess.run([sys.executable, "-m", "idp.cli", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    canary = Served(env)
    yield canary
    canary.stop()
    admin = ServerEngine(server_url_for("default"))
    try:
        admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        admin.close()


def test_canary_restart_while_sending_loses_nothing_queued(served: Served, tmp_path: Path) -> None:
    demo = served.start(demo=True)
    email, rs = demo["user"]["email"], demo["resource_server_client"]
    engine = create_engine(f"sqlite:///{tmp_path / 'canary.db'}")
    with Session(engine) as db:
        user = find_user_by_email(db, email)
        assert user is not None
        account = user.id
    engine.dispose()
    events = EventClient(served.issuer, rs["client_id"], rs["client_secret"], interval=0.1, max_backoff=1.0,
                         register_atexit=False)
    for i in range(100):
        events.track(account, "kit.restart", {"i": i})
    assert events.flush(30)
    for i in range(100, 200):  # queued, and being sent while Canary stops
        events.track(account, "kit.restart", {"i": i})
    served.stop()
    for i in range(200, 300):  # queued while Canary is away
        events.track(account, "kit.restart", {"i": i})
    time.sleep(1.0)
    assert events.stats().retries >= 1
    served.start()  # not --demo: the resource server's secret stays the same
    assert events.flush(60), events.stats()
    events.close()
    stats = events.stats()
    assert (stats.sent, stats.dropped, stats.rejected, stats.lost) == (300, 0, 0, 0)

    deadline = time.monotonic() + 60
    while True:
        summary = json.loads(served.cli("activity", "account", email, "--json"))
        if summary["events_by_name"].get("kit.restart", 0) >= 300 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert summary["events_by_name"]["kit.restart"] == 300
