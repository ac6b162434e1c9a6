"""The coalescing transport under uvicorn's protocol: same bytes, fewer writes, nothing held past a loop pass."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from idp.http_protocol import CanaryHttpProtocol, CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


def test_a_write_and_the_next_in_the_same_pass_leave_together() -> None:
    asyncio.run(_write_and_next())


async def _write_and_next() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


def test_a_lone_write_leaves_at_the_end_of_the_pass() -> None:
    asyncio.run(_lone_write())


async def _lone_write() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"head")
    assert real.writes == []
    await asyncio.sleep(0)
    assert real.writes == [b"head"]
    transport.write(b"chunk 1")
    await asyncio.sleep(0)
    transport.write(memoryview(b"chunk 2"))
    await asyncio.sleep(0)
    assert real.writes == [b"head", b"chunk 1", b"chunk 2"]


def test_close_sends_what_is_held_first_and_a_closed_transport_gets_nothing() -> None:
    asyncio.run(_close())


async def _close() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert real.writes == [b"last words"] and real.closed
    transport.write(b"too late")
    await asyncio.sleep(0)
    assert real.writes == [b"last words"]
    assert transport.get_extra_info("peername") == "extra:peername"


async def _streamed(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"part {i};".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(parts(), media_type="text/plain")


async def _json(request: Request) -> Response:
    return JSONResponse({"n": int(request.query_params.get("n", "0"))})


def test_over_real_http_keep_alive_and_streaming_answers_are_intact() -> None:
    asyncio.run(_over_real_http())


async def _over_real_http() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = Starlette(routes=[Route("/json", _json), Route("/stream", _streamed)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=CanaryHttpProtocol, log_level="warning",
                            lifespan="off")
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    try:
        while not running.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for n in range(20):  # one kept-alive connection: each answer must arrive whole and in order
                response = await client.get(f"/json?n={n}")
                assert response.status_code == 200 and response.json() == {"n": n}
            streamed = await client.get("/stream")
            assert streamed.text == "part 0;part 1;part 2;"
    finally:
        running.should_exit = True
        await asyncio.wait_for(task, 10)
