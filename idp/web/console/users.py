"""Users: search, one account's profile, memberships and activity, disable and enable.

Disabling and enabling go through ``idp.oauth.account_status``, as the admin API does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from analytics.api import ClickHouseError, queries
from idp.accounts import recovery, service
from idp.accounts.factors import policy
from idp.accounts.models import Membership, Organization, User
from idp.directory import SqlAccountDirectory
from idp.oauth import account_status
from idp.web import charts
from idp.web.admin.factors import reset_factors
from idp.web.admin.routing import Call
from idp.web.console.auth import Operator
from idp.web.console.pages import PAGE_SIZE, Form, Refused, action, done, look, page, page_offset, render, work
from idp.web.context import Canary, canary


@dataclass
class Listing:
    users: list[User]
    total: int
    memberships: dict[str, list[tuple[Organization, Membership]]]


def _search(db: Session, query: str, offset: int) -> Listing:
    users, total = service.search_users(db, query, offset=offset, limit=PAGE_SIZE)
    return Listing(users, total, service.memberships_of(db, [u.id for u in users]))


async def show_list(request: Request, op: Operator, *, error: str = "", status: int = 200,
                    form: Form | None = None) -> Response:
    c = canary(request)
    query = request.query_params.get("q", "")[:200]
    offset = page_offset(request)
    listing = await look(c, _search, query, offset)
    return render(request, op, "console/users.html", {
        "section": "users", "q": query, "listing": listing, "offset": offset, "page_size": PAGE_SIZE,
        "now": c.clock.now()}, error=error, status=status)


CHART_DAYS = 30
CHART_EVENTS = 1000  # the most one timeline page holds
LATEST_EVENTS = 100


@dataclass
class Profile:
    user: User
    memberships: list[tuple[Organization, Membership]]
    locked: bool
    factors: policy.Factors


def _profile(db: Session, user_id: str, c: Canary) -> Profile:
    user = service.get_user(db, user_id)
    return Profile(user, service.memberships_of(db, [user.id])[user.id], service.is_locked(user, c.clock.now()),
                   policy.factors_of(db, user.id))


def activity(c: Canary, user_id: str) -> dict[str, Any] | None:
    """The account's activity; None without analytics. ClickHouse being away leaves the rest of the page
    (and the actions on the account) usable."""
    if c.analytics is None:
        return None
    engine = c.analytics.clickhouse
    directory = SqlAccountDirectory(c.factory)
    today = c.clock.now().date()
    start = today - timedelta(days=CHART_DAYS - 1)
    try:
        summary = queries.account_summary(engine, directory, user_id, c.clock.now())
        recent = queries.account_timeline(engine, directory, user_id, limit=CHART_EVENTS, start=start,
                                          end=today + timedelta(days=1)).events
        # The latest events whenever they happened: an account quiet for longer than the chart's days still
        # shows what it did last.
        latest = queries.account_timeline(engine, directory, user_id, limit=LATEST_EVENTS).events
    except ClickHouseError as err:
        return {"unavailable": f"analytics is unavailable now ({err})"}
    return {"summary": summary, "timeline": latest, "chart": events_chart(recent, start),
            "capped": len(recent) == CHART_EVENTS}


def events_chart(events: list[queries.TimelineEvent], start: date) -> str:
    """Events per day over the chart's days: usage events posted by resource servers, and the provider's own
    (sign-ins, tokens)."""
    days = [start + timedelta(days=i) for i in range(CHART_DAYS)]
    usage = Counter(e.timestamp.date() for e in events if e.source == "api")
    own = Counter(e.timestamp.date() for e in events if e.source != "api")
    return charts.stacked([d.isoformat() for d in days], {
        "usage events": [usage[d] for d in days], "sign-ins and tokens": [own[d] for d in days]},
        title="Events per day", y_title="events", x_title="day (UTC)")


async def show_user(request: Request, op: Operator, *, error: str = "", status: int = 200,
                    form: Form | None = None) -> Response:
    c = canary(request)
    user_id = request.path_params["user_id"]
    profile = await look(c, _profile, user_id, c)
    seen = await c.run(activity, c, user_id)
    return render(request, op, "console/user.html", {"section": "users", "p": profile, "activity": seen},
                  error=error, status=status)


def _disable(db: Session, user_id: str, c: Canary) -> None:
    account_status.disable_account(db, service.get_user(db, user_id), c.clock.now())


def _enable(db: Session, user_id: str) -> None:
    account_status.enable_account(service.get_user(db, user_id))


@action(show_user)
async def disable(request: Request, op: Operator, form: Form) -> Response:
    c = canary(request)
    user_id = request.path_params["user_id"]
    await work(c, _disable, user_id, c)
    return done(f"/console/users/{user_id}", "disabled")


@action(show_user)
async def enable(request: Request, op: Operator, form: Form) -> Response:
    c = canary(request)
    user_id = request.path_params["user_id"]
    await work(c, _enable, user_id)
    return done(f"/console/users/{user_id}", "enabled")


def _reset_factors(db: Session, user_id: str, c: Canary) -> None:
    """The admin API's reset operation itself (``idp.web.admin.factors``): the factors go, and the reset is
    recorded as the operator's."""
    reset_factors(Call(c=c, db=db, claims={}, path={"account_id": user_id}, query={}, body=None))


@action(show_user)
async def reset_second_factors(request: Request, op: Operator, form: Form) -> Response:
    c = canary(request)
    user_id = request.path_params["user_id"]
    await work(c, _reset_factors, user_id, c)
    return done(f"/console/users/{user_id}", "factors-reset")


def _send_reset(db: Session, user_id: str, c: Canary) -> None:
    user = service.get_user(db, user_id)
    if not recovery.request_reset(c.accounts, db, user.email, requested_by="operator"):
        raise Refused(f"{user.email} is disabled: enable the account before sending a reset")


@action(show_user)
async def send_password_reset(request: Request, op: Operator, form: Form) -> Response:
    c = canary(request)
    user_id = request.path_params["user_id"]
    await work(c, _send_reset, user_id, c)
    return done(f"/console/users/{user_id}", "reset-sent")


users = page(show_list)
user = page(show_user)
