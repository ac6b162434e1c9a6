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
    inactive.
    """

    sub: str
    email: str | None
    name: str | None
    created_at: datetime
    organizations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Roster:
    """The subs of all accounts (or of an organization's members), split by creation time.

    Reports over every account need only this much of each; the details of the accounts they list
    come from `AccountDirectory.lookup`, a page at a time.
    """

    subs: list[str]
    """Every account in scope."""
    newer: list[str]
    """Those created at or after the given time."""


@runtime_checkable
class AccountDirectory(Protocol):
    def accounts(self, organization: str | None = None) -> list[AccountRef]:
        """All accounts, or the members of `organization`, with their details."""
        ...

    def members(self, organization: str) -> list[str]:
        """The subs of the members of `organization`."""
        ...

    def roster(self, organization: str | None, created_before: datetime) -> Roster:
        """The subs of all accounts, or of the members of `organization`, split at `created_before`."""
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
        return [ref.sub for ref in self.accounts(organization)]

    def roster(self, organization: str | None, created_before: datetime) -> Roster:
        refs = self.accounts(organization)
        return Roster([ref.sub for ref in refs], [ref.sub for ref in refs if ref.created_at >= created_before])

    def lookup(self, subs: Sequence[str]) -> dict[str, AccountRef]:
        wanted = set(subs)
        return {ref.sub: ref for ref in self.refs if ref.sub in wanted}

    def organization_exists(self, organization: str) -> bool:
        return organization in self.extra_organizations or any(organization in ref.organizations for ref in self.refs)
