"""WSGI middleware (Flask, Django or any WSGI app): bearer tokens checked, claims in the environ, usage recorded.

    application = CanaryWSGI(application, issuer="https://id.example.com", record_usage=True)

The claims are in ``environ["canary.claims"]`` and in ``current_claims()``. A request is recorded under its
route template, which the framework tells through ``environ["canary.route"]`` (``canary_resource.flask.protect``
sets it from Flask's URL rule; a Django middleware can set ``request.META["canary.route"]`` from
``request.resolver_match.route``) or which ``route(environ)`` returns; without one, nothing is recorded.
Events are sent when the process exits (``atexit``) or at ``guard.close()``. The claims stay current, and the
request is recorded, until the server closes the response body: a streamed body sees them too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from canary_resource.errors import BearerError, CanaryError, TokenMissing
from canary_resource.guard import Guard, _current, bearer_token

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

CLAIMS_KEY = "canary.claims"
ROUTE_KEY = "canary.route"


class CanaryWSGI:
    def __init__(self, app: WSGIApp, issuer: str | None = None, *, guard: Guard | None = None,
                 route: Callable[[dict[str, Any]], str | None] | None = None, **options: Any) -> None:
        self.app = app
        self.guard = guard or Guard(issuer, **options)
        self.route = route

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        guard = self.guard
        if guard.is_public(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        try:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
            if token is None and guard.require_token:
                raise TokenMissing("an access token is required")
            claims = guard.verifier.verify(token) if token is not None else None
        except BearerError as err:
            return self._refuse(start_response, err)
        except CanaryError as err:
            return _json(start_response, "503 Service Unavailable", {
                "error": "temporarily_unavailable", "error_description": str(err)}, [("Retry-After", "5")])
        environ[CLAIMS_KEY] = claims
        status = 500

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            status = int(status_line[:3])
            return start_response(status_line, headers, exc_info) if exc_info else start_response(status_line,
                                                                                                 headers)

        def done() -> None:
            with contextlib.suppress(ValueError):  # closed in another context than the request's: nothing to undo
                _current.reset(reset)
            recorder = guard.recorder
            if recorder is not None and claims is not None:
                template = environ.get(ROUTE_KEY) or (self.route(environ) if self.route is not None else None)
                recorder.record(claims, environ.get("REQUEST_METHOD", "GET"), template, status)

        reset = _current.set(claims)
        try:
            body = self.app(environ, start)
        except BearerError as err:  # raised by requires() in a framework that let it through
            status = err.status
            done()
            return self._refuse(start_response, err)
        except BaseException:
            done()
            raise
        return Body(body, done)

    def _refuse(self, start_response: StartResponse, err: BearerError) -> list[bytes]:
        body = {"error": err.error or "unauthorized", "error_description": err.description}
        line = {401: "401 Unauthorized", 403: "403 Forbidden"}.get(err.status, "400 Bad Request")
        return _json(start_response, line, body, self.guard.error_headers(err))


class Body:
    """The app's response body, passed through. A streamed body is generated while the server iterates it,
    after the app returned: the request's claims stay current until the server closes the body (PEP 3333
    says it always does), and the request is recorded then, with the status the app finally sent."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


def _json(start_response: StartResponse, status: str, body: dict[str, Any],
          headers: list[tuple[str, str]]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers])
    return [data]
