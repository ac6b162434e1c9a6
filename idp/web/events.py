"""POST /v1/events: usage events from resource servers, authorised by Canary access tokens.

A client_credentials token posts for accounts of the client's organization (any account for a first-party
client); a user's token, forwarded by a resource server, posts for that user only. 202 is answered only after
the events are in the durable local spool.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, select
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


# The client and the posting accounts' memberships in one plain statement on a connection: a Session, loading a
# Client through the ORM and a second statement each cost more than the look-up itself (this runs per batch).
# One row per membership, or a single row with NULL membership columns; no row at all: the client is gone.
_AUTHORISATION = (
    select(Client.first_party, Client.organization_id.label("client_organization"), Membership.user_id,
           Membership.organization_id)
    .select_from(Client)
    .outerjoin(Membership, Membership.user_id.in_(bindparam("accounts", expanding=True)))
    .where(Client.client_id == bindparam("client_id"))
)


def authorise(c: Canary, claims: dict[str, Any], events: list[Any]) -> list[Any]:
    """Check who may post for whom; fill in each event's organization from memberships."""
    accounts = list({e.account for e in events})
    with c.factory.kw["bind"].connect() as db:
        rows = db.execute(_AUTHORISATION, {"client_id": claims["client_id"], "accounts": accounts}).all()
    if not rows:
        raise Forbidden("the token's client no longer exists")
    first_party, client_org = rows[0][0], rows[0][1]
    orgs: dict[str, set[str]] = {}
    for _, _, user_id, org_id in rows:
        if user_id is not None:
            orgs.setdefault(user_id, set()).add(org_id)
    user_token = "gid" in claims
    sub = claims["sub"] if user_token else None
    # The outcome depends only on the account and the organization an event names: decided once per pair, at
    # the first event that has it (so a refusal names the same event as checking every event would).
    decided: dict[tuple[str, str], str] = {}
    out = []
    for index, event in enumerate(events):
        key = (event.account, event.organization)
        organization = decided.get(key)
        if organization is None:
            organization = decided[key] = _organization(index, event, orgs, user_token, sub, first_party,
                                                        client_org)
        out.append(event.with_organization(organization))
    return out


def _organization(index: int, event: Any, orgs: dict[str, set[str]], user_token: bool, sub: str | None,
                  first_party: bool, client_org: str | None) -> str:
    """The organization to store with ``event`` (the ``index``-th), or Forbidden."""
    if user_token and event.account != sub:
        raise Forbidden(f"event {index}: a user's token may only post events about that user")
    member_of = orgs.get(event.account, set())
    if not user_token and not first_party and (client_org is None or client_org not in member_of):
        raise Forbidden(f"event {index}: account {event.account!r} is not in this client's organization")
    organization: str = event.organization
    if organization:
        if organization not in member_of:
            raise Forbidden(f"event {index}: account {event.account!r} is not a member of {organization!r}")
    elif not user_token and client_org in member_of:
        organization = client_org or ""
    elif len(member_of) == 1:
        organization = next(iter(member_of))
    if not user_token and not first_party and not member_of:
        raise Forbidden(f"event {index}: unknown account {event.account!r}")
    return organization


async def post_events(request: Request) -> Response:
    c = canary(request)
    if c.analytics is None:
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
    # Decoding, validation, authorisation and the spool append in one trip to a worker thread.
    return await c.run(ingest, c, claims, body)


def ingest(c: Canary, claims: dict[str, Any], body: bytes) -> Response:
    """The rest of POST /v1/events once the token is checked and the body read (blocking: SQL, fsync)."""
    from analytics.api import EventValidationError, SpoolFull, parse_events

    analytics = c.analytics
    assert analytics is not None
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
        events = authorise(c, claims, events)
    except Forbidden as err:
        return json_error("forbidden", err.description, 403)
    try:
        accepted = analytics.accept(events)
    except SpoolFull as full:
        return json_error("temporarily_unavailable", "the event buffer is full; retry later", 503,
                          {"Retry-After": str(int(getattr(full, "retry_after", 5)))})
    return JSONResponse({"accepted": accepted}, status_code=202)
