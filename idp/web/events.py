"""POST /v1/events: usage events from resource servers, authorised by Canary access tokens.

Who may post for whom, and whether the token is still usable, is ``idp.oauth.resource_access``'s to say
(``Canary.access``); this module reads the request, asks, and answers. 202 is answered only after the events
are in the durable local spool.

This is the busiest endpoint, so a request costs one SQL statement: the token's signature and claims are checked
on the event loop (verified claims are kept for up to a minute, expiry checked on every use), and everything that
needs the database — the token's state, whether its client still exists, which organizations the posting
accounts belong to — is one statement after the body is validated. On the embedded SQLite database that
statement runs on the event loop and its answer is kept for the same token and accounts until the file changes;
on a database server it runs on a worker thread. The answers keep the order of the plain checks: a token
problem (401/403) before a body problem (415/413/400) before a refusal (403). The body must be sent as
``application/json`` (a charset parameter is fine): a form or ``text/plain`` post is what a browser can send
across sites without asking, so it is refused with 415.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp import metrics
from idp.oauth.errors import Forbidden, InsufficientScope, InvalidRequest, OAuthError
from idp.oauth.resource_access import Posting, RefusedEvents, UnknownAccounts
from idp.oauth.server import BodyTooLarge, read_body
from idp.web import bearer
from idp.web.context import Canary, canary
from idp.web.responses import bearer_error, json_error

SCOPE = "events:write"
MAX_BATCH_BYTES = 1024 * 1024


async def look_up(c: Canary, claims: dict[str, Any], accounts: Sequence[str]) -> Posting:
    """The token's state and the accounts' memberships: on the event loop when that is a local read."""
    if c.access.local:
        return c.access.posting(claims, accounts)
    return await c.run(c.access.posting, claims, accounts)


# --- the endpoint --------------------------------------------------------------------------------------------
async def post_events(request: Request) -> Response:
    c = canary(request)
    if c.analytics is None:
        metrics.event_post_refused("not_configured")
        return json_error("temporarily_unavailable", "event ingest is not configured", 503)
    try:
        token = bearer.bearer_credentials(request)
        if token is None:  # RFC 6750 §3.1: no authentication information, so a challenge without an error code
            metrics.event_post_refused("unauthorized")
            return bearer.authentication_required()
        claims = c.access.claims(token, SCOPE)
    except OAuthError as err:
        return _token_error(err)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        metrics.event_post_refused("unsupported_media_type")
        return json_error("unsupported_media_type", "the body must be JSON, sent with Content-Type: application/json "
                          f"(got {media_type or 'none'!r})", 415)
    try:
        body = await read_body(request, MAX_BATCH_BYTES)
    except BodyTooLarge:
        try:  # a revoked token is still answered 401 first
            (await look_up(c, claims, ())).check_token()
        except OAuthError as err:
            return _token_error(err)
        metrics.event_post_refused("too_large")
        return json_error("payload_too_large", f"a request may carry at most {MAX_BATCH_BYTES} bytes", 413)
    return await ingest(c, claims, body)


def invalid_events(errors: list[dict[str, Any]]) -> Response:
    return JSONResponse({"error": "invalid_request", "error_description": "some events are invalid; none were "
                         "accepted", "errors": errors}, status_code=400)


def _token_error(err: OAuthError) -> Response:
    metrics.event_post_refused(err.error)
    if isinstance(err, InvalidRequest):
        return bearer_error("invalid_request", err.description, 400)
    if isinstance(err, InsufficientScope):
        return bearer_error(err.error, err.description, 403, scope=SCOPE)
    return bearer_error(err.error, err.description, err.status)


async def ingest(c: Canary, claims: dict[str, Any], body: bytes) -> Response:
    """The rest of POST /v1/events once the token's signature is checked and the body read.

    It runs on the event loop: decoding and validation are CPU work that a worker thread would only do under
    the same interpreter lock, and the spool append awaits its group commit without a thread. The look-up
    goes to a worker thread unless the accounts database is the embedded SQLite file (a local read that
    costs less than the trip).
    """
    from analytics.api import EventValidationError, SpoolFull, parse_body

    analytics = c.analytics
    assert analytics is not None
    default_account = claims["sub"] if "gid" in claims else None
    problem: Response | None = None
    posted = None
    try:
        posted = parse_body(body, default_account=default_account, client_id=claims["client_id"], now=c.clock.now(),
                            retention_days=c.settings.event_retention_days)
    except EventValidationError as err:
        problem, reason = invalid_events(err.errors), "invalid_events"
    except json.JSONDecodeError as err:
        problem, reason = json_error("invalid_request", f"the body is not valid JSON: {err.msg} at line "
                                     f"{err.lineno} column {err.colno} (character {err.pos})"), "not_json"
    except UnicodeDecodeError as err:
        problem, reason = json_error("invalid_request", f"the body is not UTF-8 text: byte {err.start} is not "
                                     "valid UTF-8"), "not_json"
    except ValueError as err:
        problem, reason = json_error("invalid_request", f"the body must be a JSON object: {err}"), "not_json"
    posting = await look_up(c, claims, list(dict.fromkeys(posted.accounts)) if posted is not None else [])
    try:
        posting.check_token()
    except OAuthError as err:
        return _token_error(err)
    if problem is not None or posted is None:
        assert problem is not None
        metrics.event_post_refused(reason)
        return problem
    try:
        posted.accounts, organizations = posting.resolve(posted.accounts, posted.organizations)
    except UnknownAccounts as unknown:
        metrics.event_post_refused("unknown_account")
        return invalid_events(unknown.errors)
    except RefusedEvents as err:
        metrics.event_post_refused("forbidden")
        return JSONResponse({"error": "forbidden", "error_description": err.description, "errors": err.errors},
                            status_code=403)
    except Forbidden as err:
        metrics.event_post_refused("forbidden")
        return json_error("forbidden", err.description, 403)
    try:
        accepted = await analytics.accept_posted(posted, organizations)
    except SpoolFull as full:
        metrics.event_post_refused("spool_full")
        return json_error("temporarily_unavailable", "the event buffer is full; retry later", 503,
                          {"Retry-After": str(int(getattr(full, "retry_after", 5)))})
    metrics.events_accepted(accepted)
    return JSONResponse({"accepted": accepted}, status_code=202)
