"""Accounts and organizations made directly in the provider's database, for tests."""

from __future__ import annotations

from typing import Protocol

from idp.accounts.service import create_organization, find_organization
from idp.db import transaction
from idp.web.context import Canary


class HasContext(Protocol):
    context: Canary


def org_id(prov: HasContext, slug: str) -> str:
    """The id of the organization ``slug``, created when missing."""
    with transaction(prov.context.factory) as db:
        org = find_organization(db, slug) or create_organization(db, slug=slug)
        return org.id
