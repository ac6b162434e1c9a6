"""The console's first page: who is using the product (active users, lifecycle, who went quiet,
organizations' health, top events), for all accounts or one organization."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from analytics.api import queries
from idp.accounts.models import Organization
from idp.accounts.service import find_organization
from idp.directory import SqlAccountDirectory
from idp.web import charts
from idp.web.admin.activity.rhythm import churn_model
from idp.web.console.auth import Operator
from idp.web.console.pages import Form, Refused, look, page, render
from idp.web.context import Canary, canary

WEEKS = 12


@dataclass
class Overview:
    organization: Organization | None
    organizations: list[Organization]
    analytics: bool = True
    today: Any = None
    active_chart: str = ""
    lifecycle_chart: str = ""
    inactive: list[Any] = field(default_factory=list)
    at_risk: list[Any] = field(default_factory=list)
    health: list[tuple[Organization, Any]] = field(default_factory=list)
    top: Any = None


def _organizations(db: Session, ref: str | None) -> tuple[list[Organization], Organization | None]:
    orgs = list(db.scalars(select(Organization).order_by(Organization.slug)))
    org = find_organization(db, ref) if ref else None
    if ref and org is None:
        raise Refused(f"no organization {ref!r}", 404)
    return orgs, org


def activity(c: Canary, orgs: list[Organization], org: Organization | None) -> Overview:
    """The reports of the page; runs off the event loop (ClickHouse and SQL)."""
    out = Overview(organization=org, organizations=orgs)
    if c.analytics is None:
        out.analytics = False
        return out
    engine = c.analytics.clickhouse
    directory = SqlAccountDirectory(c.factory)
    now = c.clock.now()
    today = now.date()
    org_id = org.id if org else None
    active = queries.active_users(engine, directory, today - timedelta(days=29), today + timedelta(days=1), org_id)
    out.today = active.days[-1] if active.days else None
    out.active_chart = charts.lines([d.day.isoformat() for d in active.days], {
        "DAU": [d.dau for d in active.days], "WAU": [d.wau for d in active.days],
        "MAU": [d.mau for d in active.days]}, title="Active accounts per day", y_title="active accounts",
        x_title="day (UTC)")
    week = today - timedelta(days=today.weekday())
    life = queries.lifecycle(engine, directory, week - timedelta(weeks=WEEKS - 1), week + timedelta(weeks=1), "week",
                             org_id)
    out.lifecycle_chart = charts.stacked([p.period_start.isoformat() for p in life.periods], {
        "new": [p.new for p in life.periods], "returning": [p.returning for p in life.periods],
        "resurrecting": [p.resurrecting for p in life.periods], "dormant": [p.dormant for p in life.periods]},
        title="Lifecycle of active accounts per week", y_title="accounts", x_title="week starting (UTC)")
    # The same fixed threshold as the at-risk list's (CANARY_CHURN_INACTIVE_DAYS): each account quiet that
    # long is in one list or the other.
    out.inactive = queries.inactive_accounts(engine, directory, c.settings.churn_inactive_days, now, org_id)[:50]
    out.at_risk = queries.at_risk_accounts(engine, directory, now, churn_model(c.settings), org_id)[:50]
    for each in ([org] if org else orgs[:50]):
        out.health.append((each, queries.organization_health(engine, directory, each.id, now)))
    out.top = queries.top_events(engine, directory, today - timedelta(days=29), today + timedelta(days=1),
                                 org_id, limit=15)
    return out


async def show(request: Request, op: Operator, *, error: str = "", status: int = 200,
               form: Form | None = None) -> Response:
    c = canary(request)
    orgs, org = await look(c, _organizations, request.query_params.get("org") or None)
    data = await c.run(activity, c, orgs, org)
    return render(request, op, "console/overview.html", {"section": "activity", "o": data,
                                                           "days": c.settings.churn_inactive_days},
                  error=error, status=status)


overview = page(show)
