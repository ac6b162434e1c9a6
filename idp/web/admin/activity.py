"""/admin/api/v1 activity: who is using the product, read from ClickHouse (``analytics.queries``).

Account metrics (summary, active users, lifecycle, inactivity, organization health) filter an organization
by membership; top events filter on the organization recorded with each event. Date ranges are UTC days,
``start`` included and ``end`` excluded, at most 400 days; without them the last 30 days up to and including
today. The queries are synchronous: like every handler they run off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.api import ClickHouseError
from analytics.queries import (
    MAX_RANGE_DAYS,
    Executor,
    QueryError,
    account_summary,
    account_timeline,
    active_users,
    inactive_accounts,
    lifecycle,
    organization_health,
    top_events,
)
from idp.accounts import service
from idp.accounts.models import Organization
from idp.directory import SqlAccountDirectory
from idp.web.admin import organizations, paging
from idp.web.admin.accounts import ACCOUNT_ID, timestamp
from idp.web.admin.errors import ApiError, BadRequest
from idp.web.admin.routing import Call, Operation, Parameter
from idp.web.admin.schemas import OPTIONAL_TIMESTAMP, TIMESTAMP, define, obj, string

TAG = "activity"
T = TypeVar("T")

DEFAULT_DAYS = 30
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_TIMELINE = 200
MAX_TOP_EVENTS = 1000
MAX_INACTIVE_DAYS = 36500
UNAVAILABLE = ("Analytics is not configured on this provider (no ClickHouse), or ClickHouse cannot be reached; "
               "retry later.")


class Unavailable(ApiError):
    status = 503
    error = "temporarily_unavailable"


# --- parameters --------------------------------------------------------------------------------------------
def _date_parameter(name: str, description: str) -> Parameter:
    return Parameter(name, "query", {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                     description)


START = _date_parameter("start", "first UTC day of the range, included (YYYY-MM-DD); default: `end` - 30 days")
END = _date_parameter("end", "UTC day after the range, excluded (YYYY-MM-DD); default: tomorrow, so that the "
                             "range ends with today")
ORGANIZATION_FILTER = Parameter("organization", "query", {"type": "string", "minLength": 1, "maxLength": 100},
                                "only this organization (id or slug); an unknown one is a 400")
GRANULARITY = Parameter("granularity", "query", {"type": "string", "enum": ["day", "week", "month"],
                                                 "default": "day"},
                        "calendar days, ISO weeks (from Monday) or calendar months, UTC")
DAYS = Parameter("days", "query", {"type": "integer", "minimum": 1, "maximum": MAX_INACTIVE_DAYS, "default": 14},
                 "how many whole days without activity make an account inactive")
CURSOR = Parameter("cursor", "query", {"type": "string", "minLength": 1, "maxLength": 200},
                   "`next_cursor` of the previous page")
TIMELINE_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_TIMELINE,
                                              "default": paging.DEFAULT_LIMIT}, "how many events to return at most")
TOP_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_TOP_EVENTS, "default": 50},
                      "how many event names to return at most")
TIMELINE_START = _date_parameter("start", "only events on or after this UTC day (YYYY-MM-DD)")
TIMELINE_END = _date_parameter("end", "only events before this UTC day (YYYY-MM-DD)")

# --- response schemas ---------------------------------------------------------------------------------------
COUNT = {"type": "integer", "minimum": 0}
DAY = {"type": "string", "format": "date"}
ORGANIZATION_ID = {"type": ["string", "null"], "description": "the organization filtered on (its id), or null"}
ORGANIZATION_BRIEF = define("OrganizationBrief", obj({"id": string(), "slug": string()}))

ACCOUNT_ACTIVITY = define("AccountActivity", obj({
    "account_id": string(),
    "first_seen": {**OPTIONAL_TIMESTAMP, "description": "first activity: a sign-in, a token issued or refreshed, "
                   "or a usage event posted by a resource server"},
    "last_sign_in": {**OPTIONAL_TIMESTAMP, "description": "last successful sign-in"},
    "last_event": {**OPTIONAL_TIMESTAMP, "description": "last usage event posted by a resource server"},
    "last_seen": {**OPTIONAL_TIMESTAMP, "description": "last activity"},
    "active_days_7d": {**COUNT, "maximum": 7, "description": "UTC days with activity among the last 7, today "
                       "included"},
    "active_days_30d": {**COUNT, "maximum": 30, "description": "UTC days with activity among the last 30"},
    "events_by_name": {"type": "object", "additionalProperties": COUNT,
                       "description": "every event recorded for the account, counted by name"},
    "clients": {"type": "array", "items": string(), "description": "client_ids the account's events came "
                "through"},
    "as_of": {**TIMESTAMP, "description": "when the numbers were computed"},
}, description="one account's activity"))

TIMELINE_EVENT = define("TimelineEvent", obj({
    "event_id": string(format="uuid"),
    "name": string(),
    "timestamp": TIMESTAMP,
    "client_id": string("empty when none"),
    "organization": string("the organization id recorded with the event; empty when none"),
    "source": string("`idp` for the provider's own events, `api` for those posted by resource servers",
                     enum=["idp", "api"]),
    "properties": {"description": "the event's properties as recorded (a JSON object)"},
}))
TIMELINE = define("Timeline", obj({
    "items": {"type": "array", "items": TIMELINE_EVENT, "description": "newest first"},
    "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next (older) page; "
                    "null on the last page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_TIMELINE},
}))

ACTIVE_USERS_DAY = define("ActiveUsersDay", obj({
    "day": DAY,
    "dau": {**COUNT, "description": "accounts active on the day"},
    "wau": {**COUNT, "description": "accounts active in the 7 days ending with the day"},
    "mau": {**COUNT, "description": "accounts active in the 30 days ending with the day"},
    "stickiness": {"type": "number", "minimum": 0, "maximum": 1, "description": "dau / mau; 0 when mau is 0"},
}))
ACTIVE_USERS = define("ActiveUsers", obj({
    "organization": ORGANIZATION_ID, "start": DAY, "end": DAY,
    "days": {"type": "array", "items": ACTIVE_USERS_DAY, "description": "one per day of the range"},
}))

LIFECYCLE_PERIOD = define("LifecyclePeriod", obj({
    "period_start": DAY,
    "new": {**COUNT, "description": "first activity ever in the period"},
    "returning": {**COUNT, "description": "active in the period and in the one before"},
    "resurrecting": {**COUNT, "description": "active in the period, not in the one before, but some time earlier"},
    "dormant": {"type": "integer", "maximum": 0, "description": "minus the accounts active in the period before "
                "and not in this one"},
}))
LIFECYCLE = define("Lifecycle", obj({
    "granularity": string(enum=["day", "week", "month"]),
    "organization": ORGANIZATION_ID, "start": DAY, "end": DAY,
    "periods": {"type": "array", "items": LIFECYCLE_PERIOD,
                "description": "every whole period that overlaps the range, oldest first"},
}))

INACTIVE_ACCOUNT = define("InactiveAccount", obj({
    "account_id": string(),
    "email": {"type": ["string", "null"]},
    "name": {"type": ["string", "null"]},
    "organizations": {"type": "array", "items": ORGANIZATION_BRIEF},
    "created_at": TIMESTAMP,
    "last_seen": {"type": ["string", "null"], "format": "date", "description": "last UTC day with activity; null "
                  "when never active"},
    "inactive_days": {**COUNT, "description": "whole days since `last_seen`, or since the account was created"},
}))
INACTIVE_PAGE = paging.page_of("InactiveAccountPage", INACTIVE_ACCOUNT)

ORGANIZATION_HEALTH = define("OrganizationHealth", obj({
    "organization": ORGANIZATION_BRIEF,
    "members": COUNT,
    "active_7d": {**COUNT, "description": "members active in the last 7 days"},
    "active_30d": {**COUNT, "description": "members active in the last 30 days"},
    "inactive": {**COUNT, "description": "members inactive for 30 days or more (never-active members created 30 "
                 "or more days ago included)"},
    "previous_active_30d": {**COUNT, "description": "members active in the 30 days before the last 30"},
    "trend": {"type": "integer", "description": "active_30d - previous_active_30d"},
    "trend_ratio": {"type": ["number", "null"], "description": "active_30d / previous_active_30d - 1; null when "
                    "nobody was active in the previous period"},
    "as_of": TIMESTAMP,
}))

EVENT_USAGE = define("EventUsage", obj({
    "name": string(),
    "events": {**COUNT, "description": "how many events of this name"},
    "accounts": {**COUNT, "description": "how many accounts posted it"},
    "adoption": {"type": "number", "minimum": 0, "maximum": 1,
                 "description": "accounts / the accounts with any usage event in the range"},
}))
TOP_EVENTS = define("TopEvents", obj({
    "organization": ORGANIZATION_ID, "start": DAY, "end": DAY,
    "accounts": {**COUNT, "description": "accounts with any usage event in the range"},
    "items": {"type": "array", "items": EVENT_USAGE, "description": "most frequent first"},
}))


# --- parsing and lookups ---------------------------------------------------------------------------------------
def _analytics(call: Call) -> Executor:
    if call.c.analytics is None:
        raise Unavailable("analytics is not configured on this provider")
    return call.c.analytics.clickhouse


def _query(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an activity query; its input errors become 400s naming the field, an unreachable ClickHouse a 503."""
    try:
        return fn(*args, **kwargs)
    except QueryError as err:
        raise BadRequest(f"{err.field} {err.message}", err.field) from err
    except ClickHouseError as err:
        raise Unavailable("the analytics store (ClickHouse) is unavailable; retry later") from err


def _day(call: Call, name: str) -> date | None:
    value = call.query.get(name)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as err:
        raise BadRequest(f"{name} must be a date (YYYY-MM-DD)", name) from err
    if not EARLIEST <= day <= LATEST:
        raise BadRequest(f"{name} must be between {EARLIEST} and {LATEST}", name)
    return day


def _range(call: Call, now: datetime) -> tuple[date, date]:
    start, end = _day(call, "start"), _day(call, "end")
    if end is None:
        end = now.date() + timedelta(days=1)
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise BadRequest("start must not be after end", "start")
    if (end - start).days > MAX_RANGE_DAYS:
        raise BadRequest(f"the range must not exceed {MAX_RANGE_DAYS} days", "end")
    return start, end


def _organization(db: Session, call: Call) -> str | None:
    value = call.query.get("organization")
    if value is None:
        return None
    org = service.find_organization(db, value)
    if org is None:
        raise BadRequest(f"no organization {value!r}", "organization")
    return org.id


def _now() -> datetime:
    return datetime.now(UTC)


def _days(value: date) -> str:
    return value.isoformat()


# --- handlers ----------------------------------------------------------------------------------------------
def get_account_activity(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    user = service.get_user(call.db, call.path["account_id"])
    now = _now()
    summary = _query(account_summary, engine, SqlAccountDirectory(call.c.factory), user.id, now)
    return {
        "account_id": user.id,
        "first_seen": timestamp(summary.first_seen),
        "last_sign_in": timestamp(summary.last_signin),
        "last_event": timestamp(summary.last_event),
        "last_seen": timestamp(summary.last_seen),
        "active_days_7d": summary.active_days_7d,
        "active_days_30d": summary.active_days_30d,
        "events_by_name": summary.events_by_name,
        "clients": summary.clients,
        "as_of": now.isoformat(),
    }


def get_account_timeline(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    user = service.get_user(call.db, call.path["account_id"])
    start, end = _day(call, "start"), _day(call, "end")
    limit = int(call.query["limit"])
    page = _query(account_timeline, engine, SqlAccountDirectory(call.c.factory), user.id,
                  cursor=call.query.get("cursor"), limit=limit, start=start, end=end)
    return {
        "items": [{"event_id": e.event_id, "name": e.name, "timestamp": e.timestamp.isoformat(),
                   "client_id": e.client_id, "organization": e.organization, "source": e.source,
                   "properties": e.properties} for e in page.events],
        "next_cursor": page.next_cursor,
        "limit": limit,
    }


def get_active_users(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    start, end = _range(call, _now())
    org = _organization(call.db, call)
    result = _query(active_users, engine, SqlAccountDirectory(call.c.factory), start, end, org)
    return {
        "organization": result.organization, "start": _days(result.start), "end": _days(result.end),
        "days": [{"day": _days(d.day), "dau": d.dau, "wau": d.wau, "mau": d.mau, "stickiness": d.stickiness}
                 for d in result.days],
    }


def get_lifecycle(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    start, end = _range(call, _now())
    org = _organization(call.db, call)
    result = _query(lifecycle, engine, SqlAccountDirectory(call.c.factory), start, end,
                    call.query["granularity"], org)
    return {
        "granularity": result.granularity, "organization": result.organization,
        "start": _days(start), "end": _days(end),
        "periods": [{"period_start": _days(p.period_start), "new": p.new, "returning": p.returning,
                     "resurrecting": p.resurrecting, "dormant": p.dormant} for p in result.periods],
    }


def _slugs(db: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = db.execute(select(Organization.id, Organization.slug).where(Organization.id.in_(ids))).tuples()
    return {org_id: slug for org_id, slug in rows}


def list_inactive(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    org = _organization(call.db, call)
    found = _query(inactive_accounts, engine, SqlAccountDirectory(call.c.factory), int(call.query["days"]),
                   _now(), org)
    offset, limit = paging.window(call)
    window = found[offset:offset + limit]
    slugs = _slugs(call.db, {o for account in window for o in account.organizations})
    items = []
    for account in window:
        memberships = sorted(({"id": o, "slug": slugs[o]} for o in account.organizations if o in slugs),
                             key=lambda m: m["slug"])
        items.append({
            "account_id": account.sub, "email": account.email, "name": account.name,
            "organizations": memberships, "created_at": timestamp(account.created_at),
            "last_seen": None if account.last_seen is None else _days(account.last_seen),
            "inactive_days": account.inactive_days,
        })
    return paging.page(call, items, len(found))


def get_organization_health(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    org = organizations.find(call.db, call.path["organization"])
    now = _now()
    health = _query(organization_health, engine, SqlAccountDirectory(call.c.factory), org.id, now)
    return {
        "organization": {"id": org.id, "slug": org.slug},
        "members": health.members, "active_7d": health.active_7d, "active_30d": health.active_30d,
        "inactive": health.inactive, "previous_active_30d": health.previous_active_30d,
        "trend": health.trend, "trend_ratio": health.trend_ratio, "as_of": now.isoformat(),
    }


def get_top_events(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    start, end = _range(call, _now())
    org = _organization(call.db, call)
    result = _query(top_events, engine, SqlAccountDirectory(call.c.factory), start, end, org,
                    int(call.query["limit"]))
    return {
        "organization": result.organization, "start": _days(result.start), "end": _days(result.end),
        "accounts": result.accounts,
        "items": [{"name": e.name, "events": e.events, "accounts": e.accounts, "adoption": e.adoption}
                  for e in result.events],
    }


_ERRORS = {503: UNAVAILABLE}
_RANGE_ERRORS = {**_ERRORS, 400: "A malformed parameter, a range whose start is after its end or that exceeds "
                                 f"{MAX_RANGE_DAYS} days, or an unknown organization (`field` says which)."}

OPERATIONS = [
    Operation("GET", "/accounts/{account_id}/activity", get_account_activity, "getAccountActivity",
              "An account's activity", TAG, ACCOUNT_ACTIVITY, parameters=(ACCOUNT_ID,), errors=_ERRORS,
              description="First and last activity, last sign-in, last usage event, active days in the last 7 "
                          "and 30 UTC days, events by name and the clients used."),
    Operation("GET", "/accounts/{account_id}/timeline", get_account_timeline, "getAccountTimeline",
              "An account's events", TAG, TIMELINE,
              parameters=(ACCOUNT_ID, CURSOR, TIMELINE_LIMIT, TIMELINE_START, TIMELINE_END), errors=_ERRORS,
              description="Every event of the account, newest first. Pass `next_cursor` back as `cursor` for "
                          "older events; pages neither shift nor repeat when new events arrive."),
    Operation("GET", "/activity/active-users", get_active_users, "getActiveUsers", "DAU, WAU and MAU", TAG,
              ACTIVE_USERS, parameters=(START, END, ORGANIZATION_FILTER), errors=_RANGE_ERRORS,
              description="For each day of the range, the accounts active that day (DAU), in the 7 days (WAU) "
                          "and in the 30 days (MAU) ending with it, and stickiness (DAU / MAU). Activity is a "
                          "sign-in, a token issued or refreshed, or a usage event posted by a resource server."),
    Operation("GET", "/activity/lifecycle", get_lifecycle, "getLifecycle", "New, returning, resurrecting and "
              "dormant accounts", TAG, LIFECYCLE, parameters=(START, END, GRANULARITY, ORGANIZATION_FILTER),
              errors=_RANGE_ERRORS,
              description="Per day, week or month: accounts active for the first time ever, active again after "
                          "the previous period, back after a pause, and gone quiet since the previous period."),
    Operation("GET", "/activity/inactive", list_inactive, "listInactiveAccounts", "Inactive accounts", TAG,
              INACTIVE_PAGE, parameters=(DAYS, ORGANIZATION_FILTER, *paging.PARAMETERS), errors=_ERRORS,
              description="Accounts without activity for `days` whole UTC days or more, longest inactive first; "
                          "accounts never active count from their creation."),
    Operation("GET", "/organizations/{organization}/health", get_organization_health, "getOrganizationHealth",
              "An organization's health", TAG, ORGANIZATION_HEALTH, parameters=(organizations.ORGANIZATION,),
              errors=_ERRORS,
              description="Members, members active in the last 7 and 30 days, members inactive for 30 days or "
                          "more, and the trend against the 30 days before."),
    Operation("GET", "/activity/top-events", get_top_events, "getTopEvents", "Most used features", TAG, TOP_EVENTS,
              parameters=(START, END, ORGANIZATION_FILTER, TOP_LIMIT), errors=_RANGE_ERRORS,
              description="Usage events posted by resource servers, by name: how many, by how many accounts, and "
                          "their adoption. The organization filter applies to the organization recorded with "
                          "each event."),
]
