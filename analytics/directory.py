"""The accounts analytics reports on, as the provider knows them.

Accounts, their e-mail addresses, creation times and organization memberships live in the provider's
SQL database. Analytics never imports the provider: the provider implements `AccountDirectory` and
passes it in. `InMemoryDirectory` is a plain implementation for embedding and tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One account: `sub` is the subject identifier events carry in `events.account`.

    `created_at` is timezone-aware UTC; accounts created long ago that were never active count as
    inactive. `organizations` are those it belongs to or is invited to; `invitations` are those of them it is
    invited to and has not joined yet, with the time of the invitation.
    """

    sub: str
    email: str | None
    name: str | None
    created_at: datetime
    organizations: tuple[str, ...] = ()
    invitations: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class Roster:
    """The subs of all accounts (or of an organization's members and the people it invited), split by creation
    time.

    Reports over every account need only this much of each; the details of the accounts they list
    come from `AccountDirectory.lookup`, a page at a time.

    In an organization, someone invited who has not joined yet counts from the invitation, as if they had
    joined then: their activity before it is not the organization's.
    """

    subs: list[str]
    """Every account in scope."""
    newer: list[str]
    """Those created (invited, for `invited`) at or after the given time."""
    invited: dict[str, datetime] = field(default_factory=dict)
    """In an organization, those of `subs` invited and not joined yet, with the time of the invitation."""


@runtime_checkable
class AccountDirectory(Protocol):
    def accounts(self, organization: str | None = None) -> list[AccountRef]:
        """All accounts, or the members of `organization` and the people it invited, with their details."""
        ...

    def members(self, organization: str) -> list[str]:
        """The subs of the members of `organization`: not those invited who have not joined yet."""
        ...

    def roster(self, organization: str | None, created_before: datetime) -> Roster:
        """The subs of all accounts, or of the members of `organization` and the people it invited, split at
        `created_before`."""
        ...

    def lookup(self, subs: Sequence[str]) -> dict[str, AccountRef]:
        """The details of the accounts among `subs`, by sub (unknown subs are left out)."""
        ...

    def organization_exists(self, organization: str) -> bool: ...


@dataclass
class InMemoryDirectory:
    """An `AccountDirectory` over a list of accounts."""

    refs: list[AccountRef] = field(default_factory=list)
    extra_organizations: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, refs: Iterable[AccountRef]) -> InMemoryDirectory:
        return cls(list(refs))

    def accounts(self, organization: str | None = None) -> list[AccountRef]:
        if organization is None:
            return list(self.refs)
        return [ref for ref in self.refs if organization in ref.organizations]

    def members(self, organization: str) -> list[str]:
        return [ref.sub for ref in self.accounts(organization) if organization not in dict(ref.invitations)]

    def roster(self, organization: str | None, created_before: datetime) -> Roster:
        refs = self.accounts(organization)
        invited = {} if organization is None else {
            ref.sub: dict(ref.invitations)[organization] for ref in refs if organization in dict(ref.invitations)}
        return Roster([ref.sub for ref in refs],
                      [ref.sub for ref in refs if invited.get(ref.sub, ref.created_at) >= created_before], invited)

    def lookup(self, subs: Sequence[str]) -> dict[str, AccountRef]:
        wanted = set(subs)
        return {ref.sub: ref for ref in self.refs if ref.sub in wanted}

    def organization_exists(self, organization: str) -> bool:
        return organization in self.extra_organizations or any(organization in ref.organizations for ref in self.refs)
