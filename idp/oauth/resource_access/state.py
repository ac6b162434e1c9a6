"""Is an access token usable: the rule, and the one statement that reads what it needs.

A well-signed, unexpired access token (``TokenService.decode``) is usable while its ``jti`` is not on the
deny-list, the grant it came from (``gid``, carried by user tokens only) is not revoked, its user is not
disabled, and its client still exists and is not disabled. Revoking a grant, disabling an account, disabling or
deleting a client therefore stops every token already issued, whatever its format (``idp.oauth.tokens``).

What the rule needs is read by one statement, which the events endpoint extends with the accounts a batch
names (by id, or by e-mail address) and their memberships, so that posting events costs one statement
(``idp.oauth.resource_access``). Each row:

    revoked jti (0/1), grant active (0/1), user enabled (0/1), client_id, first_party, client organization,
    member user_id, member organization_id, account id, account e-mail, member organization's slug,
    client's events_by_email

one row per membership of each account found (one with no membership for an account without any), and at
least one row.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from idp.accounts.models import Membership, Organization, User
from idp.oauth.models import Client, Grant, RevokedAccessToken

# Column positions in the statement's rows.
(REVOKED, GRANT_ACTIVE, USER_ENABLED, CLIENT_ID, FIRST_PARTY, CLIENT_ORGANIZATION, MEMBER, MEMBER_ORGANIZATION,
 ACCOUNT, ACCOUNT_EMAIL, MEMBER_ORGANIZATION_SLUG, EVENTS_BY_EMAIL) = range(12)


class Unusable(enum.Enum):
    """Why a token that verifies may not be used, in the order the rule checks."""

    REVOKED = "token revoked"
    DISABLED = "account disabled"
    CLIENT_GONE = "the token's client no longer exists"  # or is disabled


def problem(row: Sequence[Any]) -> Unusable | None:
    """The rule: why the token the row was read for is not usable, or None when it is."""
    if row[REVOKED] or not row[GRANT_ACTIVE]:
        return Unusable.REVOKED
    if not row[USER_ENABLED]:
        return Unusable.DISABLED
    if row[CLIENT_ID] is None:
        return Unusable.CLIENT_GONE
    return None


def parameters(claims: dict[str, Any], accounts: Sequence[str]) -> tuple[list[Any], int, int]:
    """The statement's parameters for a token's claims and some accounts, how many belong to the token, and how
    many are e-mail addresses (the accounts that may be one, normalised as stored)."""
    params: list[Any] = [str(claims.get("jti", ""))]
    if "gid" in claims:
        params += [claims["gid"], claims["sub"]]
    params.append(claims["client_id"])
    token_params = len(params)
    params += accounts
    emails = [email_key(account) for account in accounts if "@" in account]
    params += emails
    return params, token_params, len(emails)


def email_key(account: str) -> str:
    """How an account named by e-mail address is looked up (addresses are stored stripped and lowercase)."""
    return account.strip().lower()


def _table(model: type[Any]) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


@functools.lru_cache(maxsize=256)
def statement(paramstyle: str, accounts: int, user_token: bool, emails: int = 0) -> str:
    """Token state, the client, and the accounts (``accounts`` ids, ``emails`` e-mail addresses) with their
    active memberships (not invitations waiting to be accepted), in one row per membership (at least one row).

    Written for the DB-API directly: SQLAlchemy's expanding IN is compiled anew on every call, which cost more
    than the query itself.
    """
    p = "?" if paramstyle == "qmark" else "%s"
    clients, members, revoked, grants, users, orgs = (
        _table(model) for model in (Client, Membership, RevokedAccessToken, Grant, User, Organization))
    token_state = f"(SELECT COUNT(*) FROM {revoked.name} WHERE {revoked.c.jti.name} = {p})"
    if user_token:
        token_state += (
            f", (SELECT COUNT(*) FROM {grants.name} WHERE {grants.c.id.name} = {p}"
            f" AND {grants.c.revoked_at.name} IS NULL)"
            f", (SELECT COUNT(*) FROM {users.name} WHERE {users.c.id.name} = {p} AND NOT {users.c.disabled.name})"
        )
    else:
        token_state += ", 1, 1"
    on_accounts = f"u.{users.c.id.name} IN ({', '.join([p] * accounts)})" if accounts else "1 = 0"
    if emails:
        on_accounts = f"({on_accounts} OR u.{users.c.email.name} IN ({', '.join([p] * emails)}))"
    return (
        f"SELECT {token_state}, c.{clients.c.client_id.name}, c.{clients.c.first_party.name}, "
        f"c.{clients.c.organization_id.name}, m.{members.c.user_id.name}, m.{members.c.organization_id.name}, "
        f"u.{users.c.id.name}, u.{users.c.email.name}, o.{orgs.c.slug.name}, c.{clients.c.events_by_email.name} "
        f"FROM (SELECT 1 AS one) AS base "
        f"LEFT JOIN {clients.name} AS c ON c.{clients.c.client_id.name} = {p} AND NOT c.{clients.c.disabled.name} "
        f"LEFT JOIN {users.name} AS u ON {on_accounts} "
        f"LEFT JOIN {members.name} AS m ON m.{members.c.user_id.name} = u.{users.c.id.name} "
        f"AND m.{members.c.state.name} = 'active' "  # an invitation not yet accepted is no membership
        f"LEFT JOIN {orgs.name} AS o ON o.{orgs.c.id.name} = m.{members.c.organization_id.name}"
    )
