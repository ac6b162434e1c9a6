"""The kit's HTTP connections to Canary: an ``httpx.Client`` opened on first use, and again after ``close()``.

A lifespan shutdown closes the connections (the ASGI middleware's, and the event client's once it has sent
what it held); a server that starts the same app again, in the same process, opens new ones on its first
call to Canary. A client passed in by the caller is the caller's: it is used as it is and never closed here.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx


class Connections:
    def __init__(self, client: httpx.Client | None = None, *, timeout: float = 10.0) -> None:
        self._given = client
        self._client = client
        self._timeout = timeout
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = self._client = httpx.Client(timeout=self._timeout)
        return client

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.client.get(url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.client.post(url, **options)

    def close(self) -> None:
        """Closes the connections the kit opened; the next call opens new ones."""
        if self._given is not None:
            return
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
