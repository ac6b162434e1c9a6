"""Embedded ClickHouse shared through the process that holds it.

chDB opens a data directory in one process only, and ``canary serve`` holds it while it runs. That process
serves its engine on a Unix socket in the data directory (mode 0600: only the owner of the data may connect),
and another process on the same directory — the ``canary`` command — reaches chDB through it with
``RelayEngine``, which is a ``ClickHouse`` like the others: statements go as SQL text, rows come back as tagged
JSON (datetimes, dates, UUIDs and decimals keep their types), inserts as the spool's encoded chunks.

Frames are a 4-byte big-endian length and a JSON document; one request per connection.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import socketserver
import struct
import threading
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from analytics.clickhouse.engine import ClickHouse, ClickHouseError, Rows, Statement
from analytics.clickhouse.sql import render

log = logging.getLogger(__name__)

SOCKET_NAME = "clickhouse.sock"
MAX_PATH = 107  # sun_path holds 108 bytes with the terminating NUL
TIMEOUT_SECONDS = 300.0
_HEADER = struct.Struct(">I")


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


# --- values --------------------------------------------------------------------------------------------------
def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"$": "uuid", "v": str(value)}
    if isinstance(value, Decimal):
        return {"$": "decimal", "v": str(value)}
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"$": "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    return value


_DECODERS: dict[str, Any] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "uuid": uuid.UUID,
    "decimal": Decimal,
    "tuple": lambda v: tuple(_decode(x) for x in v),
    "dict": lambda v: {_decode(k): _decode(x) for k, x in v},
}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return _DECODERS[value["$"]](value["v"])
    return value


# --- frames --------------------------------------------------------------------------------------------------
def _send(sock: socket.socket, document: Any) -> None:
    data = json.dumps(document).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def _receive(sock: socket.socket) -> Any:
    (size,) = _HEADER.unpack(_exactly(sock, _HEADER.size))
    return json.loads(_exactly(sock, size))


def _exactly(sock: socket.socket, size: int) -> bytes:
    parts = bytearray()
    while len(parts) < size:
        chunk = sock.recv(min(size - len(parts), 1 << 20))
        if not chunk:
            raise ConnectionError("the connection closed mid-frame")
        parts += chunk
    return bytes(parts)


# --- the client ----------------------------------------------------------------------------------------------
class RelayEngine(ClickHouse):
    """ClickHouse reached through the process serving ``path`` (``serve``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"RelayEngine({self.path})"

    def _call(self, request: dict[str, Any]) -> Any:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TIMEOUT_SECONDS)
                sock.connect(str(self.path))
                _send(sock, request)
                answer = _receive(sock)
        except (OSError, ValueError) as exc:
            raise ClickHouseError(f"cannot reach the embedded ClickHouse through {self.path}: {exc}") from exc
        if "error" in answer:
            raise ClickHouseError(answer["error"])
        return answer.get("result")

    def execute(self, statement: Statement) -> Rows:
        result = self._call({"op": "execute", "sql": render(statement)})
        return Rows((tuple(_decode(v) for v in row) for row in result["rows"]), result["columns"])

    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        self._call({"op": "insert", "chunks": [base64.b64encode(c).decode() for c in chunks]})

    def ping(self) -> bool:
        try:
            return bool(self._call({"op": "ping"}))
        except ClickHouseError:
            return False

    def close(self) -> None:
        """Nothing to close: each call has a connection of its own."""


def reachable(path: Path) -> bool:
    """Whether a process serves ClickHouse at ``path`` (a socket file left by a killed one is not)."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


# --- the server ----------------------------------------------------------------------------------------------
class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            request = _receive(self.request)
        except (OSError, ValueError):
            return
        try:
            answer = {"result": self.server.answer(request)}
        except ClickHouseError as exc:
            answer = {"error": str(exc)}
        except Exception as exc:  # a malformed request must not end the relay
            log.warning("ClickHouse relay: bad request: %r", exc)
            answer = {"error": f"bad request: {exc!r}"}
        with contextlib.suppress(OSError):
            _send(self.request, answer)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, engine: ClickHouse) -> None:
        self.engine = engine
        super().__init__(path, _Handler, bind_and_activate=False)

    def answer(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "execute":
            rows = self.engine.execute(str(request["sql"]))
            return {"columns": list(rows.columns), "rows": [[_encode(v) for v in row] for row in rows]}
        if op == "insert":
            self.engine.insert_encoded([base64.b64decode(c) for c in request["chunks"]])
            return None
        if op == "ping":
            return self.engine.ping()
        raise ValueError(f"unknown operation {op!r}")


class Relay:
    """``engine`` served on the Unix socket at ``path`` by a background thread until ``close``."""

    def __init__(self, engine: ClickHouse, path: Path) -> None:
        if len(os.fsencode(path)) > MAX_PATH:
            raise OSError(f"the socket path {path} is longer than {MAX_PATH} bytes")
        self.path = path
        # Bound under a temporary name, restricted, then renamed: the socket is never reachable with wider
        # permissions, whatever the umask.
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        self._server = _Server(str(staging), engine)
        try:
            self._server.server_bind()
            os.chmod(staging, 0o600)
            os.replace(staging, path)
            self._server.server_activate()
        except BaseException:
            self._server.server_close()
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name="clickhouse-relay", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._thread.join(5)
