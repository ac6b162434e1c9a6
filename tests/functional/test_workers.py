"""`canary serve --workers 2` as a real process tree: connections reach every worker, a worker that dies is
replaced, and SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from idp.workers import balanced
from tests.functional.conftest import free_port
from tests.support.clickhouse import server_url_for
from tests.support.procfs import socket_inodes, tcp_sockets

pytestmark = pytest.mark.skipif(not balanced(), reason="one socket per worker needs Linux's SO_REUSEPORT")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _tcp(port: int, state: str) -> set[str]:
    """Inodes of loopback TCP sockets on ``port`` in ``state`` (0A listening, 01 established)."""
    return {s.inode for s in tcp_sockets() if s.local_port == port and s.state == state}


@pytest.fixture
def server(tmp_path: Path, clickhouse_server_url: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    database = f"canary_workers_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_PORT": str(port),
           "CANARY_ISSUER": f"http://127.0.0.1:{port}", "CANARY_LOG_LEVEL": "warning",
           "CANARY_ANALYTICS_URL": server_url_for(database)}
    subprocess.run([sys.executable, "-m", "idp.cli", "migrate"], env=env, check=True, capture_output=True,
                   timeout=120)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "idp.cli", "serve", "--workers", "2"], env=env, text=True,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while len(_tcp(port, "0A")) < 2:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the workers did not start listening"
            time.sleep(0.2)
        yield process, port
    finally:
        log.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        from analytics.clickhouse import ServerEngine

        admin = ServerEngine(server_url_for("default"))
        admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()


def workers(supervisor: int, port: int) -> set[int]:
    """The supervisor's children serving the port (not multiprocessing's resource tracker)."""
    listening = _tcp(port, "0A")
    return {pid for pid in children(supervisor) if socket_inodes(pid) & listening}


def connections_per_worker(supervisor: int, port: int) -> dict[int, int]:
    established = _tcp(port, "01")
    return {pid: len(socket_inodes(pid) & established) for pid in children(supervisor)}


def test_connections_reach_every_worker_and_a_dead_worker_is_replaced(
        server: tuple[subprocess.Popen[str], int]) -> None:
    process, port = server
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(16)]
    try:
        for client in clients:  # 16 keep-alive connections opened at once, as a proxy's pool would
            assert client.get("/healthz").status_code == 200
        spread = {pid: n for pid, n in connections_per_worker(process.pid, port).items() if n}
        assert len(spread) == 2 and sum(spread.values()) == 16, spread
    finally:
        for client in clients:
            client.close()

    victim = next(iter(spread))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while victim in children(process.pid) or len(_tcp(port, "0A")) < 2:
        assert time.monotonic() < deadline, (f"the dead worker was not replaced: {victim} "
                                             f"{children(process.pid)} {_tcp(port, '0A')}")
        time.sleep(0.2)
    for attempt in range(20):
        try:
            status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code
        except httpx.HTTPError as exc:
            raise AssertionError(f"attempt {attempt}: {exc!r}") from exc
        assert status == 200
    assert process.poll() is None


def test_sighup_replaces_the_workers_without_refusing_a_request(server: tuple[subprocess.Popen[str], int]) -> None:
    process, port = server
    before = workers(process.pid, port)
    assert len(before) == 2
    errors: list[str] = []
    served = 0
    stop = threading.Event()

    def load() -> None:  # one request after another on fresh connections, all through the reload
        nonlocal served
        while not stop.is_set():
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
                continue
            if status == 200:
                served += 1
            else:
                errors.append(str(status))

    thread = threading.Thread(target=load)
    thread.start()
    try:
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 120
        while before & workers(process.pid, port) or len(workers(process.pid, port)) < 2:
            assert time.monotonic() < deadline, "the workers were not replaced"
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(60)
    assert process.poll() is None
    assert errors == [] and served > 0


def test_sigterm_stops_every_worker(server: tuple[subprocess.Popen[str], int]) -> None:
    process, port = server
    workers = children(process.pid)
    assert workers
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert not _tcp(port, "0A")

    def running(pid: int) -> bool:
        try:
            return "Z" not in (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False

    # The workers are gone when the supervisor returns; multiprocessing's resource tracker follows it shortly.
    deadline = time.monotonic() + 10
    while [pid for pid in workers if running(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if running(pid)]


def test_a_worker_that_cannot_start_stops_the_supervisor(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_PORT": str(port),
           "CANARY_ISSUER": f"http://127.0.0.1:{port}", "CANARY_LOG_LEVEL": "warning",
           "CANARY_ANALYTICS_URL": "clickhouse+native://default@127.0.0.1:9/x",
           "CANARY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    result = subprocess.run([sys.executable, "-m", "idp.cli", "serve", "--workers", "2"], env=env, text=True,
                            capture_output=True, timeout=120)
    assert result.returncode != 0


@pytest.mark.parametrize("shared", [False, True], ids=["plain", "reuseport"])
def test_a_port_in_use_is_a_clear_error(tmp_path: Path, shared: bool) -> None:
    """Also when the holder allows port sharing, as another `canary serve --workers N` would."""
    with socket.socket() as taken:
        if shared:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_PORT": str(port),
               "CANARY_ISSUER": f"http://127.0.0.1:{port}", "CANARY_LOG_LEVEL": "warning",
               "CANARY_ANALYTICS_URL": "clickhouse+native://default@127.0.0.1:9/x"}
        result = subprocess.run([sys.executable, "-m", "idp.cli", "serve", "--workers", "2"], env=env, text=True,
                                capture_output=True, timeout=120)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
