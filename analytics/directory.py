"""The accounts analytics reports on, as the provider knows them.

Accounts, their e-mail addresses, creation times and organization memberships live in the provider's
SQL database. Analytics never imports the provider: the provider implements `AccountDirectory` and
passes it in. `InMemoryDirectory` is a plain implementation for embedding and tests.
"""

from __future__ import annotations

from collections.abc import Iterable
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


@runtime_checkable
class AccountDirectory(Protocol):
    def accounts(self, organization: str | None = None) -> list[AccountRef]:
        """All accounts, or the members of `organization`."""
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

    def organization_exists(self, organization: str) -> bool:
        return organization in self.extra_organizations or any(organization in ref.organizations for ref in self.refs)
