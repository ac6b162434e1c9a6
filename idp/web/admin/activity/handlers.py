"""The activity operations' handlers: parse the query, ask ``analytics.queries``, render.

The queries are synchronous: like every handler they run off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.api import ClickHouseError
from analytics.queries import (
    MAX_RANGE_DAYS,
    Executor,
    QueryError,
    account_assessment,
    account_summary,
    account_timeline,
    active_users,
    inactive_accounts,
    lifecycle,
    organization_health,
    top_events,
)
from idp.accounts import service
from idp.accounts.invitations import seat_uptake
from idp.accounts.models import Organization
from idp.directory import SqlAccountDirectory
from idp.web.admin import organizations, paging
from idp.web.admin.accounts import timestamp
from idp.web.admin.activity.rhythm import churn_model, rhythm_dict
from idp.web.admin.activity.schemas import DEFAULT_DAYS, EARLIEST, LATEST
from idp.web.admin.errors import ApiError, BadRequest
from idp.web.admin.routing import Call

T = TypeVar("T")


class Unavailable(ApiError):
    status = 503
    error = "temporarily_unavailable"


# --- parsing and lookups ---------------------------------------------------------------------------------------
def _analytics(call: Call) -> Executor:
    if call.c.analytics is None:
        raise Unavailable("analytics is not configured on this provider")
    return call.c.analytics.clickhouse


def _query(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an activity query; its input errors become 400s naming the field, an unreachable ClickHouse a 503."""
    try:
        return fn(*args, **kwargs)
    except QueryError as err:  # the queries' messages do not always read on after the field's name
        raise BadRequest(f"{err.field}: {err.message}", err.field) from err
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


def _days(value: date) -> str:
    return value.isoformat()


# --- handlers ----------------------------------------------------------------------------------------------
def get_account_activity(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    user = service.get_user(call.db, call.path["account_id"])
    now = call.c.clock.now()
    summary = _query(account_summary, engine, SqlAccountDirectory(call.c.factory), user.id, now)
    assessed = _query(account_assessment, engine, user.id, now, churn_model(call.c.settings))
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
        "rhythm": None if assessed is None else rhythm_dict(assessed[0]),
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
    start, end = _range(call, call.c.clock.now())
    org = _organization(call.db, call)
    result = _query(active_users, engine, SqlAccountDirectory(call.c.factory), start, end, org)
    return {
        "organization": result.organization, "start": _days(result.start), "end": _days(result.end),
        "days": [{"day": _days(d.day), "dau": d.dau, "wau": d.wau, "mau": d.mau, "stickiness": d.stickiness}
                 for d in result.days],
    }


def get_lifecycle(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    start, end = _range(call, call.c.clock.now())
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
                   call.c.clock.now(), org)
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
    now = call.c.clock.now()
    health = _query(organization_health, engine, SqlAccountDirectory(call.c.factory), org.id, now)
    accepted, invited = seat_uptake(call.db, [org.id])[org.id]
    return {
        "organization": {"id": org.id, "slug": org.slug},
        "members": health.members, "active_7d": health.active_7d, "active_30d": health.active_30d,
        "inactive": health.inactive, "previous_active_30d": health.previous_active_30d,
        "trend": health.trend, "trend_ratio": health.trend_ratio,
        "seats": {"invited": invited, "accepted": accepted, "uptake": accepted / invited if invited else None},
        "as_of": now.isoformat(),
    }


def get_top_events(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    start, end = _range(call, call.c.clock.now())
    org = _organization(call.db, call)
    result = _query(top_events, engine, SqlAccountDirectory(call.c.factory), start, end, org,
                    int(call.query["limit"]))
    return {
        "organization": result.organization, "start": _days(result.start), "end": _days(result.end),
        "accounts": result.accounts,
        "items": [{"name": e.name, "events": e.events, "accounts": e.accounts, "adoption": e.adoption}
                  for e in result.events],
    }


