"""ASGI middleware (Starlette, FastAPI): bearer tokens checked, claims on the request, usage recorded.

    app.add_middleware(CanaryMiddleware, issuer="https://id.example.com", record_usage=True)

A request without a valid token is answered 401 (RFC 6750 §3) unless its path is ``public`` or
``require_token=False`` (then the route runs without claims, and ``requires`` refuses it). The claims are in
``request.scope["canary.claims"]`` (``claims_of(request)``) and in ``current_claims()``. With
``record_usage=True`` each authenticated request that a route matched becomes a usage event named after the
route's template (``scope["route"]``, set by Starlette's router and FastAPI's, under the templates of the
mounts it is in), sent in the background. At lifespan shutdown the event client sends what it holds; at the
next startup (the same app served again in this process) it takes events again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from canary_resource.claims import AccessClaims
from canary_resource.errors import BearerError, CanaryError, TokenMissing
from canary_resource.guard import Guard, _current, bearer_token
from canary_resource.route_templates import RouteTemplates
from canary_resource.verifier import NeedsIO

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLAIMS_KEY = "canary.claims"


def claims_of(request: Any) -> AccessClaims | None:
    """The verified claims of a Starlette/FastAPI request (anything with an ASGI ``scope``)."""
    claims: AccessClaims | None = request.scope.get(CLAIMS_KEY)
    return claims


class CanaryMiddleware:
    def __init__(self, app: ASGIApp, issuer: str | None = None, *, guard: Guard | None = None,
                 **options: Any) -> None:
        self.app = app
        self.guard = guard or Guard(issuer, **options)
        self.templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), self._lifespan_send(send))
            return
        if scope["type"] not in ("http", "websocket") or self.guard.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        try:
            claims = await self._authenticate(scope)
        except BearerError as err:
            await self._refuse(send, err)
            return
        except CanaryError as err:  # the issuer cannot be reached: no answer about the token either way
            await _json(send, 503, {"error": "temporarily_unavailable", "error_description": str(err)},
                        [("Retry-After", "5")])
            return
        scope[CLAIMS_KEY] = claims
        entry = (scope.get("route"), str(scope.get("root_path", "")), scope.get("path_params"))
        status = 500
        started = False

        async def send_status(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        reset = _current.set(claims)
        try:
            await self.app(scope, receive, send_status)
        except BearerError as err:  # raised by requires()
            if started:
                raise
            status = err.status
            await self._refuse(send, err)
        finally:
            _current.reset(reset)
            recorder = self.guard.recorder
            if recorder is not None and claims is not None:
                recorder.record(claims, scope["method"], self.templates.template(scope, entry), status)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake with a bad or missing token is closed with 1008 (policy violation), which the
        server answers as a 403; connections are not recorded as usage events."""
        try:
            claims = await self._authenticate(scope)
        except CanaryError:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        scope[CLAIMS_KEY] = claims
        reset = _current.set(claims)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(reset)

    async def _authenticate(self, scope: Scope) -> AccessClaims | None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        token = bearer_token(authorization)
        if token is None:
            if self.guard.require_token:
                raise TokenMissing("an access token is required")
            return None
        try:
            return self.guard.verifier.verify(token, io=False)
        except NeedsIO:  # the first call, a new key or an opaque token: the issuer is called off the event loop
            return await asyncio.to_thread(self.guard.verifier.verify, token)

    async def _refuse(self, send: Send, err: BearerError) -> None:
        body = {"error": err.error or "invalid_request", "error_description": err.description}
        if isinstance(err, TokenMissing):
            body = {"error": "unauthorized", "error_description": err.description}
        await _json(send, err.status, body, self.guard.error_headers(err))

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":  # the app starts again after a shutdown in this process
                self.guard.open()
            return message
        return lifespan_receive

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await asyncio.to_thread(self.guard.close)
            await send(message)
        return lifespan_send


async def _json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[str, str]]) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})
