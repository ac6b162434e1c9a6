"""POST /v1/events: usage events from resource servers, authorised by Canary access tokens.

A client_credentials token posts for accounts of the client's organization (any account for a first-party
client); a user's token, forwarded by a resource server, posts for that user only. 202 is answered only after
the events are in the durable local spool.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.accounts.models import Membership
from idp.db import utcnow
from idp.oauth.errors import InsufficientScope, InvalidRequest, OAuthError
from idp.oauth.models import Client
from idp.oauth.server import BodyTooLarge, read_body
from idp.web import bearer
from idp.web.context import Canary, canary
from idp.web.responses import bearer_error, json_error

SCOPE = "events:write"
MAX_BATCH_BYTES = 1024 * 1024


class Forbidden(OAuthError):
    error = "forbidden"
    status = 403


def authorise(c: Canary, claims: dict[str, Any], events: list[Any]) -> list[Any]:
    """Check who may post for whom; fill in each event's organization from memberships."""
    accounts = {e.account for e in events}
    with c.factory() as db:
        client = db.get(Client, claims["client_id"])
        if client is None:
            raise Forbidden("the token's client no longer exists")
        rows = db.execute(select(Membership.user_id, Membership.organization_id)
                          .where(Membership.user_id.in_(accounts))).all()
    orgs: dict[str, set[str]] = {}
    for user_id, org_id in rows:
        orgs.setdefault(user_id, set()).add(org_id)
    user_token = "gid" in claims
    out = []
    for index, event in enumerate(events):
        if user_token and event.account != claims["sub"]:
            raise Forbidden(f"event {index}: a user's token may only post events about that user")
        member_of = orgs.get(event.account, set())
        if not user_token and not client.first_party and (
                client.organization_id is None or client.organization_id not in member_of):
            raise Forbidden(f"event {index}: account {event.account!r} is not in this client's organization")
        organization = event.organization
        if organization:
            if organization not in member_of:
                raise Forbidden(f"event {index}: account {event.account!r} is not a member of {organization!r}")
        elif not user_token and client.organization_id in member_of:
            organization = client.organization_id or ""
        elif len(member_of) == 1:
            organization = next(iter(member_of))
        if not user_token and not client.first_party and not member_of:
            raise Forbidden(f"event {index}: unknown account {event.account!r}")
        out.append(replace(event, organization=organization))
    return out


async def post_events(request: Request) -> Response:
    from analytics.api import EventValidationError, SpoolFull, parse_events

    c = canary(request)
    analytics = c.analytics
    if analytics is None:
        return json_error("temporarily_unavailable", "event ingest is not configured", 503)
    try:
        claims = await c.run(bearer.verify, c, bearer.header_token(request), SCOPE)
    except InvalidRequest as err:
        return bearer_error("invalid_request", err.description, 400)
    except InsufficientScope as err:
        return bearer_error(err.error, err.description, 403, scope=SCOPE)
    except OAuthError as err:
        return bearer_error(err.error, err.description, err.status)
    try:
        body = await read_body(request, MAX_BATCH_BYTES)
    except BodyTooLarge:
        return json_error("payload_too_large", f"a request may carry at most {MAX_BATCH_BYTES} bytes", 413)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return json_error("invalid_request", "the body must be a JSON object")
    default_account = claims["sub"] if "gid" in claims else None
    try:
        events = parse_events(payload, default_account=default_account, client_id=claims["client_id"],
                              now=utcnow(), retention_days=c.settings.event_retention_days)
    except EventValidationError as err:
        return JSONResponse({"error": "invalid_request", "error_description": "some events are invalid; none "
                             "were accepted", "errors": err.errors}, status_code=400)
    try:
        events = await c.run(authorise, c, claims, events)
    except Forbidden as err:
        return json_error("forbidden", err.description, 403)
    try:
        accepted = await c.run(analytics.accept, events)
    except SpoolFull as full:
        return json_error("temporarily_unavailable", "the event buffer is full; retry later", 503,
                          {"Retry-After": str(int(getattr(full, "retry_after", 5)))})
    return JSONResponse({"accepted": accepted}, status_code=202)
