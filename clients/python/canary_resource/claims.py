"""The verified claims of an access token, as a route sees them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from canary_resource.errors import InsufficientScope


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """An access token that passed every check (RFC 9068 §4, or RFC 7662 for an opaque one).

    ``organization`` is the token's organization claim when it has one (``organization_claim`` of the
    verifier, ``org_id`` by default); ``raw`` holds every claim as received.
    """

    sub: str
    client_id: str | None
    scopes: frozenset[str]
    expires_at: int
    organization: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def has_scope(self, *scopes: str) -> bool:
        return all(s in self.scopes for s in scopes)

    def require(self, scopes: Iterable[str]) -> None:
        """Raises InsufficientScope (RFC 6750 §3.1) naming every scope the route needs when one is missing."""
        needed = list(scopes)
        missing = [s for s in needed if s not in self.scopes]
        if missing:
            raise InsufficientScope(f"the access token lacks the scope {' '.join(missing)}", scope=" ".join(needed))


def from_mapping(claims: Mapping[str, Any], organization_claim: str) -> AccessClaims:
    """AccessClaims out of checked JWT claims or an active introspection answer."""
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    client_id = claims.get("client_id")
    org = claims.get(organization_claim)
    return AccessClaims(
        sub=str(claims["sub"]), client_id=client_id if isinstance(client_id, str) else None, scopes=scopes,
        expires_at=int(claims["exp"]), organization=org if isinstance(org, str) and org else None, raw=dict(claims),
    )
