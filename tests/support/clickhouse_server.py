"""A private ClickHouse server for tests that must stop and restart one (outage, crash recovery).

It is started with `.ci/clickhouse.sh` (the same way CI starts its shared server) on free loopback ports in a
directory of its own; stop() signals only the PID that start() recorded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "clickhouse.sh"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ClickHouseServer:
    def __init__(self, directory: Path, *, tcp_port: int | None = None, http_port: int | None = None) -> None:
        self.directory = directory
        self.tcp_port = tcp_port or free_port()
        self.http_port = http_port or free_port()
        self.pid: int | None = None

    def url(self, database: str) -> str:
        return f"clickhouse+native://default@127.0.0.1:{self.tcp_port}/{database}"

    def start(self, timeout: float = 60.0) -> None:
        result = subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.directory), str(self.tcp_port), str(self.http_port)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"clickhouse-server did not start: {result.stdout}{result.stderr}")
        self.pid = int((self.directory / "clickhouse.pid").read_text().strip())

    def stop(self, *, kill: bool = False, timeout: float = 30.0) -> None:
        """Stop the server this object started (SIGTERM, or SIGKILL to simulate a crash)."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        (self.directory / "clickhouse.pid").unlink(missing_ok=True)

    def __enter__(self) -> ClickHouseServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
