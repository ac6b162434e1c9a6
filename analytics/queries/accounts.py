"""One account: summary and cursor-paged timeline.

Both read the `events` table, whose sort key starts with `account`. Duplicate rows of one event carry
the same content, so counts use `uniqExact` of the id (`sql.EVENT_KEY`) and the timeline keeps one row per event
(`LIMIT 1 BY event_id`). "First seen" and "last seen" consider activity only: sign-ins, tokens issued
or refreshed, and posted usage events. Active days come from the account's monthly masks in
`account_activity` (one key range). With an organization, the account must be one of its members.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from analytics import provider_events
from analytics.directory import AccountDirectory
from analytics.queries import params
from analytics.queries.days import MASK, MONTH, mask_days, month_filter
from analytics.queries.errors import QueryError
from analytics.queries.sql import (
    EVENT_KEY,
    Executor,
    day_start,
    epoch_seconds,
    from_day_number,
    from_epoch,
    quote,
    run,
)

MAX_PAGE = 1000
MAX_SECONDS = 2**32 - 1
"""The last second ClickHouse's DateTime holds (it counts unsigned 32-bit seconds from 1970)."""


@dataclass(frozen=True, slots=True)
class AccountSummary:
    sub: str
    first_seen: datetime | None
    last_signin: datetime | None
    """Last `signin.succeeded` the provider recorded (source 'idp')."""
    last_event: datetime | None
    """Last usage event posted by a resource server (source 'api')."""
    last_seen: datetime | None
    active_days_7d: int
    active_days_30d: int
    events_by_name: dict[str, int]
    clients: list[str]


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    event_id: str
    name: str
    timestamp: datetime
    client_id: str
    organization: str
    source: str
    properties: Any


@dataclass(frozen=True, slots=True)
class TimelinePage:
    events: list[TimelineEvent]
    next_cursor: str | None
    """Pass back to get the next (older) page; None on the last page."""


def _organizations_of(directory: AccountDirectory, sub: str) -> tuple[str, ...]:
    ref = directory.lookup([sub]).get(sub)
    return () if ref is None else ref.organizations


def _check_account(directory: AccountDirectory, sub: str, organization: str | None) -> str | None:
    if not isinstance(sub, str) or not sub:
        raise QueryError("sub", "must be a non-empty string")
    org = params.organization(directory, organization)
    if org is not None and org not in _organizations_of(directory, sub):
        raise QueryError("sub", "not a member of the organization")
    return org


def account_summary(
    engine: Executor,
    directory: AccountDirectory,
    sub: str,
    now: datetime,
    organization: str | None = None,
) -> AccountSummary:
    _check_account(directory, sub, organization)
    today = params.today(now)
    rows = run(
        engine,
        f"SELECT name, source, client_id, uniqExact({EVENT_KEY}), toUInt32(min(timestamp)),"
        f" toUInt32(max(timestamp)) FROM events WHERE account = {quote(sub)}"
        f" AND timestamp <= toDateTime({epoch_seconds(now)}) GROUP BY name, source, client_id",
    )
    events_by_name: dict[str, int] = {}
    clients: set[str] = set()
    first_seen: int | None = None
    last_seen: int | None = None
    last_signin: int | None = None
    last_event: int | None = None
    for name, source, client_id, count, first, last in rows:
        events_by_name[name] = events_by_name.get(name, 0) + int(count)
        if client_id:
            clients.add(str(client_id))
        if source == "api" or name in provider_events.ACTIVITY:
            first_seen = int(first) if first_seen is None else min(first_seen, int(first))
            last_seen = int(last) if last_seen is None else max(last_seen, int(last))
        if name == provider_events.SIGNIN_SUCCEEDED and source == "idp":
            last_signin = int(last) if last_signin is None else max(last_signin, int(last))
        if source == "api":
            last_event = int(last) if last_event is None else max(last_event, int(last))
    since = today - timedelta(days=29)
    days: set[date] = set()
    rows = run(
        engine,
        f"SELECT {MONTH}, {MASK} FROM account_activity WHERE {month_filter(f'account = {quote(sub)}', since, today)}",
    )
    for month, mask in rows:
        days.update(mask_days(from_day_number(month), int(mask)))
    days_7d = sum(1 for day in days if today - timedelta(days=6) <= day <= today)
    days_30d = sum(1 for day in days if since <= day <= today)

    def moment(value: int | None) -> datetime | None:
        return None if value is None else from_epoch(value)

    return AccountSummary(
        sub,
        moment(first_seen),
        moment(last_signin),
        moment(last_event),
        moment(last_seen),
        days_7d,
        days_30d,
        dict(sorted(events_by_name.items())),
        sorted(clients),
    )


def encode_cursor(timestamp: datetime, event_id: str) -> str:
    raw = json.dumps([epoch_seconds(timestamp), event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (seconds, event_id) of a cursor made by `encode_cursor`: the base64url of a JSON pair of an integer
    in DateTime's range (`MAX_SECONDS`) and a UUID string. Anything else, however it fails, is
    QueryError("cursor")."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError) as error:
        raise QueryError("cursor", "malformed cursor") from error
    if not isinstance(value, list) or len(value) != 2:
        raise QueryError("cursor", "malformed cursor")
    seconds, event_id = value
    # bool is an int to Python; 1.0, Infinity and 1e400 arrive as floats: none of them is a cursor's.
    if type(seconds) is not int or not 0 <= seconds <= MAX_SECONDS or not isinstance(event_id, str):
        raise QueryError("cursor", "malformed cursor")
    try:
        return seconds, str(uuid.UUID(event_id))
    except ValueError as error:
        raise QueryError("cursor", "malformed cursor") from error


def _properties(value: Any) -> Any:
    """Stored properties text as the JSON value it holds; as text when it cannot be decoded here (nesting
    close to the decoder's limit fails deeper in a request's stack than it did at ingest)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def account_timeline(
    engine: Executor,
    directory: AccountDirectory,
    sub: str,
    cursor: str | None = None,
    limit: int = 50,
    organization: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> TimelinePage:
    """Events of one account, newest first, `limit` at a time.

    The cursor encodes the (timestamp, event_id) of the last event returned; the next page continues
    strictly after it in (timestamp desc, event_id desc) order, so events inserted meanwhile neither
    shift nor repeat pages.
    """
    _check_account(directory, sub, organization)
    params.threshold("limit", limit)
    if limit > MAX_PAGE:
        raise QueryError("limit", f"must be at most {MAX_PAGE}")
    conditions = [f"account = {quote(sub)}"]
    if start is not None:
        conditions.append(f"timestamp >= toDateTime({epoch_seconds(day_start(start))})")
    if end is not None:
        conditions.append(f"timestamp < toDateTime({epoch_seconds(day_start(end))})")
    if start is not None and end is not None:
        params.date_range(start, end)
    if cursor is not None:
        seconds, event_id = decode_cursor(cursor)
        conditions.append(
            f"(timestamp < toDateTime({seconds}) OR (timestamp = toDateTime({seconds})"
            f" AND toString(event_id) < {quote(event_id)}))"
        )
    # LIMIT BY in a subquery and LIMIT outside: over a Distributed table (a cluster) ClickHouse 18.16 applies
    # the LIMIT on each shard before the LIMIT BY, so duplicates would take places of the page.
    order = "ORDER BY ts DESC, id DESC"
    rows = run(
        engine,
        "SELECT id, name, ts, client_id, organization, source, properties FROM ("
        " SELECT toString(event_id) AS id, name, toUInt32(timestamp) AS ts, client_id, organization,"
        f" source, properties FROM events WHERE {' AND '.join(conditions)} {order} LIMIT 1 BY id)"
        f" {order} LIMIT {limit + 1}",
    )
    events = [
        TimelineEvent(str(i), str(n), from_epoch(t), str(c), str(o), str(s), _properties(p))
        for i, n, t, c, o, s, p in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit and events:
        next_cursor = encode_cursor(events[-1].timestamp, events[-1].event_id)
    return TimelinePage(events, next_cursor)
