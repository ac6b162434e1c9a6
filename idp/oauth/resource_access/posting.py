"""Who may post usage events about whom, and which organization is stored with each event.

A ``client_credentials`` token posts for accounts of its client's organization (any account for a first-party
client); a user's token, forwarded by a resource server, posts for that user only. An event that names no
organization is stored with the client's organization when the account belongs to it, else with the account's
only organization, else with none.
"""

from __future__ import annotations

from typing import Any

from idp.oauth.errors import Forbidden
from idp.oauth.resource_access.state import (
    CLIENT_ID,
    CLIENT_ORGANIZATION,
    FIRST_PARTY,
    MEMBER,
    MEMBER_ORGANIZATION,
    Unusable,
)


def organizations(claims: dict[str, Any], rows: list[Any], accounts: list[str], posted: list[str],
                  decided: dict[Any, str]) -> list[str]:
    """The organization to store with each event (given its account and posted organization, '' for none), or
    Forbidden naming the first event refused.

    ``rows`` are the look-up's (``idp.oauth.resource_access.state``); ``decided`` keeps the decisions for the
    next request answered by the same rows.
    """
    if rows[0][CLIENT_ID] is None:
        raise Forbidden(Unusable.CLIENT_GONE.value)
    # The outcome depends only on the account and the organization an event names: decided once per distinct
    # pair, in the order of their first events, so a refusal names the event that checking every event in
    # turn would name.
    if posted.count("") == len(posted):  # the common case: no event names its organization
        keys: list[Any] = accounts
        distinct = {account: (account, "") for account in accounts}
    else:
        keys = list(zip(accounts, posted, strict=True))
        distinct = {key: key for key in keys}
    new = [key for key in distinct if key not in decided]
    if new:
        first_party, client_org = bool(rows[0][FIRST_PARTY]), rows[0][CLIENT_ORGANIZATION]
        orgs: dict[str, set[str]] = {}
        for row in rows:
            if row[MEMBER] is not None:
                orgs.setdefault(row[MEMBER], set()).add(row[MEMBER_ORGANIZATION])
        user_token = "gid" in claims
        sub = claims["sub"] if user_token else None
        for key in new:
            account, named = distinct[key]
            try:
                decided[key] = organization(account, named, orgs, user_token, sub, first_party, client_org)
            except Forbidden as refused:
                raise Forbidden(f"event {keys.index(key)}: {refused.description}") from None
    return list(map(decided.__getitem__, keys))


def organization(account: str, posted: str, orgs: dict[str, set[str]], user_token: bool, sub: str | None,
                 first_party: bool, client_org: str | None) -> str:
    """The organization to store with an event about ``account`` that names ``posted`` ('' for none), or
    Forbidden. ``orgs`` maps accounts to the organizations they are members of."""
    if user_token and account != sub:
        raise Forbidden("a user's token may only post events about that user")
    member_of = orgs.get(account, set())
    if not user_token and not first_party and (client_org is None or client_org not in member_of):
        raise Forbidden(f"account {account!r} is not in this client's organization")
    chosen = posted
    if chosen:
        if chosen not in member_of:
            raise Forbidden(f"account {account!r} is not a member of {chosen!r}")
    elif not user_token and client_org in member_of:
        chosen = client_org or ""
    elif len(member_of) == 1:
        chosen = next(iter(member_of))
    if not user_token and not first_party and not member_of:
        raise Forbidden(f"unknown account {account!r}")
    return chosen
