"""Account services in one import: users (``idp.accounts.users``), password sign-in (``idp.accounts.login``),
organizations (``idp.accounts.organizations``) and memberships (``idp.accounts.memberships``). Callers pass a
SQLAlchemy session. Deleting an organization goes through here (``delete_organization``): it also reaches the
alert rules that watch the organization."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.alerts import AlertRule, update_rule
from idp.accounts import organizations
from idp.accounts.login import (
    LoginPolicy,
    authenticate,
)
from idp.accounts.memberships import (
    active_organization_ids,
    add_member,
    find_membership,
    members_of,
    members_page,
    memberships_of,
    organization_ids,
    remove_member,
)
from idp.accounts.models import Organization
from idp.accounts.organizations import (
    check_slug,
    create_organization,
    find_organization,
    member_counts,
    search_organizations,
    slug_taken,
    update_organization,
)
from idp.accounts.users import (
    DEFAULT_PASSWORD_MIN_LENGTH,
    MIN_PASSWORD,
    create_user,
    disable_user,
    enable_user,
    find_user_by_email,
    get_user,
    is_locked,
    normalize_email,
    search_users,
    update_user,
)

__all__ = [
    "DEFAULT_PASSWORD_MIN_LENGTH",
    "MIN_PASSWORD",
    "LoginPolicy",
    "active_organization_ids",
    "add_member",
    "authenticate",
    "check_slug",
    "create_organization",
    "create_user",
    "delete_organization",
    "disable_user",
    "enable_user",
    "find_membership",
    "find_organization",
    "find_user_by_email",
    "get_user",
    "is_locked",
    "member_counts",
    "members_of",
    "members_page",
    "memberships_of",
    "normalize_email",
    "organization_ids",
    "remove_member",
    "search_organizations",
    "search_users",
    "slug_taken",
    "update_organization",
    "update_user",
]


def delete_organization(db: Session, org: Organization) -> list[int]:
    """Delete ``org`` (``idp.accounts.organizations.delete_organization``) and disable, in the same transaction,
    the alert rules that watch it; their ids. Such a rule would watch no one, and widened to every account it
    would report strangers to the organization's recipients: it stays off, keeping the organization's id so an
    operator sees what it watched, until someone gives it another scope."""
    rule_ids = list(db.scalars(select(AlertRule.id).where(AlertRule.organization == org.id,
                                                           AlertRule.enabled.is_(True))))
    for rule_id in rule_ids:
        update_rule(db, rule_id, {"enabled": False})
    organizations.delete_organization(db, org)
    return rule_ids
