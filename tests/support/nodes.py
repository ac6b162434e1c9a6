"""Several ``canary serve`` processes on one accounts database and one ClickHouse database, each with its own data
directory (and so its own spool), as nodes behind a proxy run; and a webhook receiver that can hold a request open
and tells which process sent each one (Linux: the sender's socket is looked up in /proc)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.procfs import socket_inodes, tcp_sockets
from tests.support.server_thread import free_port


def canary(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """One ``canary`` command with ``env``; its output is returned, never raised on."""
    return subprocess.run([sys.executable, "-m", "idp.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


@dataclass
class Node:
    name: str
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    log: IO[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir / "serve.log").read_text()

    def wait_until_ready(self, deadline: float) -> None:
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, f"{self.name} exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"{self.name} did not become ready:\n{self.output()}"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no release of what it was sending."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.log.close()


def start_nodes(count: int, env: dict[str, str], root: Path) -> list[Node]:
    """``count`` nodes started at once, each on a free port with its own data directory under ``root``; returns
    when every one answers /readyz (the caller stops them, also when this fails)."""
    nodes: list[Node] = []
    try:
        for index in range(1, count + 1):
            port = free_port()
            data_dir = root / f"node-{index}"
            data_dir.mkdir(parents=True)
            log = (data_dir / "serve.log").open("w")
            process = subprocess.Popen(
                [sys.executable, "-m", "idp.cli", "serve"], text=True, stdout=log, stderr=subprocess.STDOUT,
                env={**env, "CANARY_DATA_DIR": str(data_dir), "CANARY_PORT": str(port)})
            nodes.append(Node(f"node-{index}", f"http://127.0.0.1:{port}", data_dir, process, log))
        deadline = time.monotonic() + 120
        for node in nodes:
            node.wait_until_ready(deadline)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


def _connection_inodes(local_port: int, remote_port: int) -> set[str]:
    """Inodes of the loopback TCP sockets from ``local_port`` to ``remote_port``."""
    return {s.inode for s in tcp_sockets() if (s.local_port, s.remote_port) == (local_port, remote_port)}


def sender_pid(peer_port: int, server_port: int, pids: Iterable[int]) -> int | None:
    """Which of ``pids`` holds the client end of the open connection from ``peer_port`` to ``server_port``."""
    inodes = _connection_inodes(peer_port, server_port)
    for pid in pids:
        if socket_inodes(pid) & inodes:
            return pid
    return None


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    sender: int | None
    """The PID of the process that sent it, when it is one of the receiver's ``senders``."""
    at: float
    """``time.monotonic()`` when it arrived."""


@dataclass
class HoldingReceiver:
    """A webhook receiver on a loopback port answering 204; while ``hold_next`` is set, the next request is kept
    open (unanswered) until ``release()``. Every request is recorded when it arrives, with its sender."""

    senders: Callable[[], list[int]]
    received: list[Received] = field(default_factory=list)
    hold_next: bool = False
    held: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> HoldingReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        assert self._server is not None
        body = request.rfile.read(int(request.headers["Content-Length"]))
        sender = sender_pid(request.client_address[1], self._server.server_address[1], self.senders())
        with self._changed:
            self.received.append(Received({k.lower(): v for k, v in request.headers.items()}, body, sender,
                                          time.monotonic()))
            hold, self.hold_next = self.hold_next, False
            self._changed.notify_all()
        if hold:
            self.held.set()
            self._release.wait(60)
        try:
            request.send_response(204)
            request.end_headers()
        except OSError:
            pass  # the sender is gone

    def release(self) -> None:
        self._release.set()

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """At least ``count`` requests, or an assertion error after ``timeout`` seconds."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"{len(self.received)} webhook requests within {timeout} s, expected {count}"
            return list(self.received)

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
