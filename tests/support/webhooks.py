"""A webhook receiver for tests: an HTTP handler that keeps every POST it gets, headers and body."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass
