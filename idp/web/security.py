"""Response headers every page and API answer carries, and the Content-Security-Policy of HTML pages.

Every response: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options:
DENY``. Every HTML response also gets a Content-Security-Policy that allows only the site's own resources,
plus inline ``<script>`` and ``<style>`` elements that carry this request's nonce, and no framing at all.

The nonce is made per request and kept in the ASGI scope's state: ``request.state.csp_nonce`` in endpoints,
``csp_nonce`` in every template (``csp_context``). A template writes ``<script nonce="{{ csp_nonce }}">`` or
``<style nonce="{{ csp_nonce }}">``; inline event handlers (``onclick=``) and ``style=`` attributes are refused by
the browser. A response that sets its own Content-Security-Policy keeps it.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp.oauth.web_origins import origin_of

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# As ASGI carries them: lower-case names, latin-1 bytes. Set on the raw list (every response passes here).
_RAW = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in HEADERS.items()]
_CSP = b"content-security-policy"


def content_security_policy(nonce: str, images: tuple[str, ...] = ()) -> str:
    """The policy of every HTML page. No ``form-action``: browsers apply it to the redirect that follows a form
    (the login form's redirect to the relying party), which must be free to go anywhere registered. ``images``:
    origins this page may also load images from (``allow_images_from``)."""
    image_sources = " ".join(("'self'", "data:", *images))
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
            f"img-src {image_sources}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def allow_images_from(request: Request, uri: str | None) -> None:
    """Let this page's policy load images from ``uri``'s origin: a client's registered logo, shown on the login
    and invitation pages."""
    origin = origin_of(uri) if uri else None
    if origin is not None:
        request.state.csp_images = (*getattr(request.state, "csp_images", ()), origin)


def csp_context(request: Request) -> dict[str, Any]:
    """Jinja2 context processor: ``csp_nonce`` for inline scripts and styles."""
    return {"csp_nonce": getattr(request.state, "csp_nonce", "")}


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"content-type" and value.lower().startswith(b"text/html") for name, value in headers)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in _RAW if header[0] not in present]
                if _CSP not in present and _is_html(headers):
                    images = scope["state"].get("csp_images", ())
                    headers.append((_CSP, content_security_policy(nonce, images).encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
