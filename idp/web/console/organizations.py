"""Organizations and their members: create, rename, delete; add a member by e-mail, change a role, remove."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from analytics.api import ClickHouseError, queries
from idp.accounts import service
from idp.accounts.factors import policy
from idp.accounts.models import Membership, Organization, User
from idp.directory import SqlAccountDirectory
from idp.web.admin import schemas
from idp.web.console.auth import Operator
from idp.web.console.pages import PAGE_SIZE, Form, Refused, action, check, done, look, page, render, work
from idp.web.context import Canary, canary


@dataclass
class Listing:
    organizations: list[Organization]
    total: int
    members: dict[str, int]


def _search(db: Session, query: str) -> Listing:
    orgs, total = service.search_organizations(db, query, limit=PAGE_SIZE)
    return Listing(orgs, total, service.member_counts(db, [o.id for o in orgs]))


async def show_list(request: Request, op: Operator, *, error: str = "", status: int = 200,
                    form: Form | None = None) -> Response:
    query = request.query_params.get("q", "")[:200]
    listing = await look(canary(request), _search, query)
    return render(request, op, "console/organizations.html",
                  {"section": "organizations", "q": query, "listing": listing, "form": form},
                  error=error, status=status)


def _find(db: Session, ref: str) -> Organization:
    org = service.find_organization(db, ref)
    if org is None:
        raise Refused(f"no organization {ref!r}", 404)
    return org


@dataclass
class Detail:
    organization: Organization
    members: list[tuple[User, Membership]]
    total: int


def _detail(db: Session, ref: str) -> Detail:
    org = _find(db, ref)
    members, total = service.members_page(db, org, limit=500)
    return Detail(org, members, total)


def health(c: Canary, org_id: str) -> queries.OrganizationHealth | str | None:
    """The organization's health; None without analytics, a message when ClickHouse is away."""
    if c.analytics is None:
        return None
    try:
        return queries.organization_health(c.analytics.clickhouse, SqlAccountDirectory(c.factory), org_id,
                                           c.clock.now())
    except ClickHouseError as err:
        return f"analytics is unavailable now ({err})"


async def show_organization(request: Request, op: Operator, *, error: str = "", status: int = 200,
                            form: Form | None = None) -> Response:
    c = canary(request)
    detail = await look(c, _detail, request.path_params["org"])
    return render(request, op, "console/organization.html",
                  {"section": "organizations", "d": detail, "form": form,
                   "health": await c.run(health, c, detail.organization.id)}, error=error, status=status)


def _create(db: Session, slug: str, name: str) -> str:
    check(schemas.ORGANIZATION_UPDATE, {"name": name}, "")
    return service.create_organization(db, slug=slug, name=name.strip()).slug


@action(show_list)
async def create(request: Request, op: Operator, form: Form) -> Response:
    slug = await work(canary(request), _create, form.get("slug").strip(), form.get("name"))
    return done(f"/console/organizations/{slug}", "org-created")


def _update(db: Session, ref: str, name: str) -> str:
    org = _find(db, ref)
    check(schemas.ORGANIZATION_UPDATE, {"name": name}, "")
    service.update_organization(db, org, name=name)
    return org.slug


@action(show_organization)
async def update(request: Request, op: Operator, form: Form) -> Response:
    slug = await work(canary(request), _update, request.path_params["org"], form.get("name"))
    return done(f"/console/organizations/{slug}", "org-updated")


def _delete(db: Session, ref: str) -> None:
    service.delete_organization(db, _find(db, ref))


@action(show_organization)
async def delete(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), _delete, request.path_params["org"])
    return done("/console/organizations", "org-deleted")


def _member(db: Session, ref: str, email: str, role: str) -> str:
    org = _find(db, ref)
    check(schemas.ROLE_INPUT, role, "role")
    user = service.find_user_by_email(db, email)
    if user is None:
        raise Refused(f"no account with the e-mail address {email!r}", 404)
    service.add_member(db, user, org, role)
    return org.slug


@action(show_organization)
async def put_member(request: Request, op: Operator, form: Form) -> Response:
    slug = await work(canary(request), _member, request.path_params["org"], form.get("email").strip(),
                      form.get("role", "member").strip() or "member")
    return done(f"/console/organizations/{slug}", "member-saved")


def _remove(db: Session, ref: str, user_id: str) -> str:
    org = _find(db, ref)
    if not service.remove_member(db, user_id, org.id):
        raise Refused(f"account {user_id} is not a member of {org.slug}", 404)
    return org.slug


@action(show_organization)
async def remove_member(request: Request, op: Operator, form: Form) -> Response:
    slug = await work(canary(request), _remove, request.path_params["org"], form.get("account_id"))
    return done(f"/console/organizations/{slug}", "member-removed")


def _require(db: Session, ref: str, required: bool) -> str:
    org = _find(db, ref)
    policy.set_organization_requirement(org, required)
    return org.slug


@action(show_organization)
async def second_factor_policy(request: Request, op: Operator, form: Form) -> Response:
    slug = await work(canary(request), _require, request.path_params["org"], form.get("required") == "true")
    return done(f"/console/organizations/{slug}", "policy-saved")


organizations = page(show_list)
organization = page(show_organization)
