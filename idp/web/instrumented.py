"""HTTP metrics: every answer counted and timed by method, route template (``/accounts/{account_id}``, never
the path itself, which would make a series per id) and status. Requests that match no route are ``unmatched``.

The tally is kept on the event loop (``idp.metrics.HttpTally``) and added to the metrics every
``FLUSH_SECONDS`` by a timer on the same loop, and by ``/metrics`` before it answers.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp import metrics

FLUSH_SECONDS = 1.0


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    return f"{scope.get('root_path', '')}{path}"


def _flush_every_second(loop: asyncio.AbstractEventLoop) -> None:
    metrics.HTTP.flush()
    loop.call_later(FLUSH_SECONDS, _flush_every_second, loop)


class Instrumented:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._timer_on: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._timer_on is None:
            self._timer_on = asyncio.get_running_loop()
            self._timer_on.call_later(FLUSH_SECONDS, _flush_every_second, self._timer_on)
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            metrics.HTTP.add(scope["method"], route_template(scope), status, time.perf_counter() - started)
