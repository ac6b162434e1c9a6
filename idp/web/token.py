"""/token, /introspect and /revoke: handed to Authlib through ``idp.oauth.server``.

Failed client authentication at /token, /introspect and /revoke is counted per client address and per client_id
(``idp.accounts.throttle``); past the limit the answer is 429 with Retry-After. A request is never slowed by the
count while its client authenticates: the shared counters are written and read only after a failure, and a
process remembers what it learnt so that it refuses a throttled client without asking the database.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from idp.accounts.throttle import Limit, Throttled
from idp.oauth.server import basic_credentials, read_form
from idp.web.context import Canary, canary
from idp.web.throttling import client_address, too_many_json


def _client_id(request: Request, form: dict[str, str]) -> str:
    credentials = basic_credentials(request.headers.get("authorization", ""))
    return credentials[0] if credentials is not None else form.get("client_id", "")


def _client_failed(response: Response) -> bool:
    """``invalid_client``: 401, or 400 when the client sent no Authorization header (RFC 6749 §5.2)."""
    if response.status_code not in (400, 401):
        return False
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and body.get("error") == "invalid_client"


def _record_failure(c: Canary, checks: list[tuple[Limit, str]]) -> Throttled | None:
    with c.factory() as db:
        return c.throttle.record_failure(db, checks)


def _refused(c: Canary, refused: Throttled, client_id: str, endpoint: str) -> Response:
    c.activity.signin_throttled(None, None, refused.limit, endpoint, client_id)
    return too_many_json(refused)


# Authlib's endpoint name (None: the token endpoint) → the endpoint's name in throttle events.
_NAMES = {None: "token", "introspection": "introspect", "revocation": "revoke"}


async def _authenticated(request: Request, endpoint: str | None) -> Response:
    c = canary(request)
    form = await read_form(request, c.settings.max_body_bytes)
    client_id = _client_id(request, form)[:64]
    checks = c.throttle.limits.client_auth(client_address(request), client_id)
    name = _NAMES[endpoint]
    refused = c.throttle.refusing(checks)
    if refused is not None:
        return _refused(c, refused, client_id, name)
    response = await c.server.respond(request, endpoint, form)
    if _client_failed(response):
        refused = await c.run(_record_failure, c, checks)
        if refused is not None:
            return _refused(c, refused, client_id, name)
    return response


async def token(request: Request) -> Response:
    return await _authenticated(request, None)


async def introspect(request: Request) -> Response:
    return await _authenticated(request, "introspection")


async def revoke(request: Request) -> Response:
    return await _authenticated(request, "revocation")
