"""uvicorn's httptools protocol, with a response's head and body sent in one write.

uvicorn writes the status line and headers when the application sends ``http.response.start`` and the body
when it sends ``http.response.body``: two ``send`` system calls and two TCP segments for every small answer,
a twentieth of a token request's CPU time. Here a write is held until the next write, or until the end of the
event loop's current pass, whichever comes first: a head followed at once by its body (every Starlette
response that is not streamed) leaves in one system call, and nothing waits longer than one pass of the loop.
The byte stream is unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport that joins a write with the one that follows it in the same pass of the event loop."""

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        held, self._held = self._held, None
        self._transport.write(held + bytes(data))

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class CanaryHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:  # uvloop's transports are not asyncio.Transport
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
