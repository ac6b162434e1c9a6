"""Cross-origin calls from browser applications (CORS), on the endpoints a single-page application calls.

- Discovery and the JWKS are public: any origin may read them (``Access-Control-Allow-Origin: *``).
- ``/token``, ``/userinfo`` and ``/revoke`` answer an origin that is a registered client's web origin
  (``idp.oauth.web_origins``): a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) gets ``204`` with
  the methods and request headers allowed, and the response to the request itself names the origin. Another
  origin's preflight is refused (``403``) and its responses carry no CORS header, so its page cannot read them.

Credentials (cookies) are never allowed cross-origin: these endpoints take a client's credentials, a code with
its PKCE verifier, or a bearer token, each sent by the application's code. Every other path is left alone:
the authorization and logout endpoints are navigated to, not called.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp.oauth.web_origins import WebOrigins, origin_of

PUBLIC = frozenset({"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks"})
# path → the methods an application may call it with
FOR_APPLICATIONS = {"/token": b"POST", "/userinfo": b"GET, POST", "/revoke": b"POST"}
_PATHS = PUBLIC | FOR_APPLICATIONS.keys()
_ALLOWED_HEADERS = b"authorization, content-type"
_EXPOSED_HEADERS = b"www-authenticate, retry-after"  # a bearer error, a throttle's wait
_MAX_AGE = b"600"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class CrossOrigin:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in _PATHS:
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        public = path in PUBLIC
        allow = b"*" if public else (origin if await self._allowed(scope, origin) else None)
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            await self._preflight(send, allow, b"GET" if public else FOR_APPLICATIONS[path], public)
            return
        if allow is None:
            await self.app(scope, receive, send)
            return
        added = [(b"access-control-allow-origin", allow), (b"access-control-expose-headers", _EXPOSED_HEADERS)]
        if not public:
            added.append((b"vary", b"Origin"))

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, with_cors)

    @staticmethod
    async def _allowed(scope: Scope, origin: bytes) -> bool:
        asked = origin_of(origin.decode("latin-1"))
        if asked is None:
            return False
        context = scope["app"].state.canary
        web_origins: WebOrigins = context.web_origins
        known = web_origins.cached()
        if known is None:
            known = await context.run(web_origins.load)
        return asked in known

    @staticmethod
    async def _preflight(send: Send, allow: bytes | None, methods: bytes, public: bool) -> None:
        if allow is None:
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"vary", b"Origin")]
            body = b"this origin is not a registered client's web origin"
            await send({"type": "http.response.start", "status": 403,
                        "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        headers = [(b"access-control-allow-origin", allow), (b"access-control-allow-methods", methods),
                   (b"access-control-allow-headers", _ALLOWED_HEADERS), (b"access-control-max-age", _MAX_AGE),
                   (b"content-length", b"0")]
        if not public:
            headers.append((b"vary", b"Origin"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
