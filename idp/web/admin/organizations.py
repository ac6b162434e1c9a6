"""/admin/api/v1/organizations: organizations and their members."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp.accounts import service
from idp.accounts.errors import AccountError
from idp.accounts.models import Membership, Organization, User
from idp.web.admin import paging, schemas
from idp.web.admin.accounts import ACCOUNT_ID, timestamp
from idp.web.admin.errors import BadRequest, Conflict, NotFound
from idp.web.admin.routing import Call, Operation, Parameter

TAG = "organizations"
ORGANIZATION = Parameter("organization", "path", {"type": "string"}, "the organization's id or slug", required=True)
QUERY = Parameter("q", "query", {"type": "string", "maxLength": 200},
                  "only organizations whose slug or name contains this (case-insensitive)")
ORGANIZATION_PAGE = paging.page_of("OrganizationPage", schemas.ORGANIZATION)
MEMBER_PAGE = paging.page_of("MemberPage", schemas.MEMBER)


def organization_json(org: Organization, members: int) -> dict[str, Any]:
    return {"id": org.id, "slug": org.slug, "name": org.name, "created_at": timestamp(org.created_at),
            "member_count": members}


def member_json(user: User, membership: Membership) -> dict[str, Any]:
    return {"account_id": user.id, "email": user.email, "name": user.name, "role": membership.role,
            "disabled": user.disabled, "joined_at": timestamp(membership.created_at), "state": membership.state,
            "invited_at": timestamp(membership.invited_at)}


def find(db: Session, id_or_slug: str) -> Organization:
    org = service.find_organization(db, id_or_slug)
    if org is None:
        raise NotFound(f"no organization {id_or_slug!r}")
    return org


def slug(db: Session, value: str, excluding: str | None = None) -> str:
    try:
        normalised = service.check_slug(value)
    except AccountError as err:
        raise BadRequest(str(err), "slug") from err
    if service.slug_taken(db, normalised, excluding):
        raise Conflict(f"organization {normalised} exists", "slug")
    return normalised


def load(db: Session, org: Organization) -> dict[str, Any]:
    db.flush()
    return organization_json(org, service.member_counts(db, [org.id])[org.id])


def list_organizations(call: Call) -> dict[str, Any]:
    offset, limit = paging.window(call)
    orgs, total = service.search_organizations(call.db, call.query.get("q", ""), offset=offset, limit=limit)
    counts = service.member_counts(call.db, [o.id for o in orgs])
    return paging.page(call, [organization_json(o, counts[o.id]) for o in orgs], total)


def create_organization(call: Call) -> dict[str, Any]:
    org = service.create_organization(call.db, slug=slug(call.db, call.body["slug"]),
                                      name=call.body.get("name", "").strip())
    return load(call.db, org)


def get_organization(call: Call) -> dict[str, Any]:
    return load(call.db, find(call.db, call.path["organization"]))


def update_organization(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    new_slug = slug(call.db, call.body["slug"], org.id) if "slug" in call.body else None
    service.update_organization(call.db, org, slug=new_slug, name=call.body.get("name"))
    return load(call.db, org)


def delete_organization(call: Call) -> None:
    service.delete_organization(call.db, find(call.db, call.path["organization"]))


def list_members(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    offset, limit = paging.window(call)
    rows, total = service.members_page(call.db, org, offset=offset, limit=limit)
    return paging.page(call, [member_json(user, membership) for user, membership in rows], total)


def put_member(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    user = service.get_user(call.db, call.path["account_id"])
    membership = service.add_member(call.db, user, org, call.body.get("role", "member"))
    call.db.flush()
    return member_json(user, membership)


def remove_member(call: Call) -> None:
    org = find(call.db, call.path["organization"])
    user = service.get_user(call.db, call.path["account_id"])
    if not service.remove_member(call.db, user.id, org.id):
        raise NotFound(f"account {user.id} is not a member of {org.slug}")


OPERATIONS = [
    Operation("GET", "/organizations", list_organizations, "listOrganizations", "Search organizations", TAG,
              ORGANIZATION_PAGE, parameters=(QUERY, *paging.PARAMETERS),
              description="Organizations in order of slug, optionally filtered by slug or name."),
    Operation("POST", "/organizations", create_organization, "createOrganization", "Create an organization", TAG,
              schemas.ORGANIZATION, status=201, body=schemas.ORGANIZATION_CREATE, conflict=True,
              response_description="Created", description="409 when the slug is taken."),
    Operation("GET", "/organizations/{organization}", get_organization, "getOrganization", "Get an organization",
              TAG, schemas.ORGANIZATION, parameters=(ORGANIZATION,)),
    Operation("PATCH", "/organizations/{organization}", update_organization, "updateOrganization",
              "Change an organization", TAG, schemas.ORGANIZATION, body=schemas.ORGANIZATION_UPDATE,
              parameters=(ORGANIZATION,), conflict=True, description="409 when the new slug is taken."),
    Operation("DELETE", "/organizations/{organization}", delete_organization, "deleteOrganization",
              "Delete an organization", TAG, status=204, parameters=(ORGANIZATION,),
              response_description="Deleted",
              description="Its memberships are deleted; its accounts and clients are kept (the clients "
                          "without an organization)."),
    Operation("GET", "/organizations/{organization}/members", list_members, "listMembers", "List members", TAG,
              MEMBER_PAGE, parameters=(ORGANIZATION, *paging.PARAMETERS),
              description="Members in the order they joined."),
    Operation("PUT", "/organizations/{organization}/members/{account_id}", put_member, "putMember",
              "Add a member or change their role", TAG, schemas.MEMBER, body=schemas.MEMBER_ROLE,
              parameters=(ORGANIZATION, ACCOUNT_ID)),
    Operation("DELETE", "/organizations/{organization}/members/{account_id}", remove_member, "removeMember",
              "Remove a member", TAG, status=204, parameters=(ORGANIZATION, ACCOUNT_ID),
              response_description="Removed", description="404 when the account is not a member."),
]
