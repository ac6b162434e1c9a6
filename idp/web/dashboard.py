"""The activity dashboard: who is using the product, server-rendered for administrators.

Administrators sign in through Canary itself: the dashboard is a first-party public client
(``canary-dashboard``) and only accounts with ``is_admin`` may see it. Pages are read-only (GET).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from analytics.api import queries
from idp.accounts import sessions
from idp.accounts.invitations import seat_uptake
from idp.accounts.models import Organization, User
from idp.accounts.service import find_organization
from idp.directory import SqlAccountDirectory
from idp.oauth.clients import DASHBOARD_CLIENT_ID
from idp.opaque import new_secret
from idp.web import charts
from idp.web.authorize import SESSION_COOKIE
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE, error_page

INACTIVE_DAYS = 14


@dataclass
class Overview:
    organization: Organization | None
    organizations: list[Organization]
    today: Any = None
    active_chart: str = ""
    lifecycle_chart: str = ""
    inactive: list[Any] = field(default_factory=list)
    health: list[tuple[Organization, Any]] = field(default_factory=list)
    seats: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per organization id: (accepted, invited) invitations."""
    top: Any = None


def _admin(c: Canary, cookie: str | None) -> User | bool | None:
    """The signed-in administrator; None when nobody is signed in; False when the user is not an admin."""
    with c.factory() as db:
        session = sessions.load_session(db, cookie, c.clock.now())
        if session is None:
            return None
        user = db.get(User, session.user_id)
        return user if user is not None and user.is_admin else False


def _sign_in(request: Request, c: Canary) -> Response:
    params = {"client_id": DASHBOARD_CLIENT_ID, "redirect_uri": f"{c.settings.issuer}/dashboard/callback",
              "response_type": "code", "scope": "openid", "state": new_secret(12),
              # PKCE is required of public clients; the dashboard relies on the session cookie, not the code.
              "code_challenge": new_secret(32), "code_challenge_method": "S256"}
    return RedirectResponse(f"/authorize?{urlencode(params)}", status_code=302, headers=NO_STORE)


def overview_data(c: Canary, org_ref: str | None) -> Overview | str:
    assert c.analytics is not None
    engine = c.analytics.clickhouse
    directory = SqlAccountDirectory(c.factory)
    now = datetime.now(UTC)
    today = now.date()
    with c.factory() as db:
        orgs = list(db.scalars(select(Organization).order_by(Organization.slug)))
        org = find_organization(db, org_ref) if org_ref else None
    if org_ref and org is None:
        return f"unknown organization {org_ref!r}"
    org_id = org.id if org else None
    out = Overview(organization=org, organizations=orgs)
    active = queries.active_users(engine, directory, today - timedelta(days=29), today + timedelta(days=1), org_id)
    out.today = active.days[-1] if active.days else None
    out.active_chart = charts.lines([d.day.isoformat() for d in active.days], {
        "DAU": [d.dau for d in active.days], "WAU": [d.wau for d in active.days],
        "MAU": [d.mau for d in active.days]})
    week = today - timedelta(days=today.weekday())
    life = queries.lifecycle(engine, directory, week - timedelta(weeks=11), week + timedelta(weeks=1), "week", org_id)
    out.lifecycle_chart = charts.stacked([p.period_start.isoformat() for p in life.periods], {
        "new": [p.new for p in life.periods], "returning": [p.returning for p in life.periods],
        "resurrecting": [p.resurrecting for p in life.periods], "dormant": [p.dormant for p in life.periods]})
    out.inactive = queries.inactive_accounts(engine, directory, INACTIVE_DAYS, now, org_id)[:50]
    for each in ([org] if org else orgs[:50]):
        out.health.append((each, queries.organization_health(engine, directory, each.id, now)))
    with c.factory() as db:
        out.seats = seat_uptake(db, [each.id for each, _health in out.health])
    out.top = queries.top_events(engine, directory, today - timedelta(days=29), today + timedelta(days=1),
                                 org_id, limit=15)
    return out


def account_data(c: Canary, account_id: str) -> dict[str, Any] | None:
    assert c.analytics is not None
    engine = c.analytics.clickhouse
    with c.factory() as db:
        user = db.get(User, account_id)
        if user is None:
            return None
        email, name, created = user.email, user.name, user.created_at
    directory = SqlAccountDirectory(c.factory)
    summary = queries.account_summary(engine, directory, account_id, datetime.now(UTC))
    timeline = queries.account_timeline(engine, directory, account_id, limit=100)
    return {"id": account_id, "email": email, "name": name, "created_at": created, "summary": summary,
            "timeline": timeline.events}


async def _guard(request: Request, c: Canary) -> Response | None:
    who = await c.run(_admin, c, request.cookies.get(SESSION_COOKIE))
    if who is None:
        return _sign_in(request, c)
    if who is False:
        return error_page(request, "access_denied", "this account may not open the dashboard", 403)
    if c.analytics is None:
        return error_page(request, "temporarily_unavailable", "analytics is not configured", 503)
    return None


async def overview(request: Request) -> Response:
    c = canary(request)
    refused = await _guard(request, c)
    if refused is not None:
        return refused
    data = await c.run(overview_data, c, request.query_params.get("org") or None)
    if isinstance(data, str):
        return error_page(request, "invalid_request", data)
    return c.templates.TemplateResponse(request, "dashboard.html", {"o": data, "days": INACTIVE_DAYS,
                                                                    "today": date.today()}, headers=NO_STORE)


async def account(request: Request) -> Response:
    c = canary(request)
    refused = await _guard(request, c)
    if refused is not None:
        return refused
    data = await c.run(account_data, c, request.path_params["account_id"])
    if data is None:
        return error_page(request, "not_found", "no such account", 404)
    return c.templates.TemplateResponse(request, "dashboard_account.html", {"a": data}, headers=NO_STORE)


async def callback(request: Request) -> Response:
    """Where the sign-in lands; the session cookie set by the login form is what the dashboard trusts."""
    return RedirectResponse("/dashboard", status_code=302, headers=NO_STORE)
