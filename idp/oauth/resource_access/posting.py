"""Who may post usage events about whom, and which account and organization are stored with each event.

An event names an existing account by its ``sub`` or, when the posting client is registered for it
(``events_by_email``), by its e-mail address; an account that does not exist is refused (``UnknownAccounts``,
answered 400 with the index and field of every such event), so that activity counts only real people. The
event is stored with the account's ``sub``. To an organization's client, an address outside its organization
is unknown too: nothing tells it which addresses have accounts in other tenants.

A ``client_credentials`` token posts for accounts of its client's organization (any account for a first-party
client); a user's token, forwarded by a resource server, posts for that user only. An event may name an
organization of its account's by id or by slug; it is stored with the id. An event that names no organization
is stored with the client's organization when the account belongs to it, else with the account's only
organization, else with none.
"""

from __future__ import annotations

from typing import Any

from idp.oauth.errors import Forbidden
from idp.oauth.resource_access.state import (
    ACCOUNT,
    ACCOUNT_EMAIL,
    CLIENT_ID,
    CLIENT_ORGANIZATION,
    EVENTS_BY_EMAIL,
    FIRST_PARTY,
    MEMBER,
    MEMBER_ORGANIZATION,
    MEMBER_ORGANIZATION_SLUG,
    Unusable,
    email_key,
)


class RefusedEvent(Forbidden):
    """One event may not be posted by this token; ``field`` is what it names that is refused."""

    def __init__(self, description: str, field: str) -> None:
        super().__init__(description)
        self.field = field


class RefusedEvents(Forbidden):
    """Forbidden naming the first refused event, with ``errors``: every refused event's index, field and why,
    so that a sender can drop those and post the rest."""

    def __init__(self, description: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(description)
        self.errors = errors


class UnknownAccounts(Exception):
    """Events name accounts that do not exist; ``errors`` as the body validator lists problems."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} event(s) name an unknown account")
        self.errors = errors


class Accounts:
    """The accounts a look-up found, by id and by e-mail address, with their organizations by id and slug."""

    __slots__ = ("by_email", "ids", "organizations", "slugs")

    def __init__(self, rows: list[Any]) -> None:
        self.ids: set[str] = set()
        self.by_email: dict[str, str] = {}
        self.organizations: dict[str, set[str]] = {}
        self.slugs: dict[str, dict[str, str]] = {}
        for row in rows:
            account = row[ACCOUNT]
            if account is None:
                continue
            self.ids.add(account)
            self.by_email[row[ACCOUNT_EMAIL]] = account
            if row[MEMBER] is not None:
                self.organizations.setdefault(account, set()).add(row[MEMBER_ORGANIZATION])
                self.slugs.setdefault(account, {})[row[MEMBER_ORGANIZATION_SLUG]] = row[MEMBER_ORGANIZATION]

    def find(self, account: str, by_email: bool) -> str | None:
        if account in self.ids:
            return account
        if by_email and "@" in account:
            return self.by_email.get(email_key(account))
        return None


# In ``decided``: the accounts named otherwise than by their sub (by e-mail), event key → sub.
RENAMED = object()


def resolve(claims: dict[str, Any], rows: list[Any], accounts: list[str], posted: list[str],
            decided: dict[Any, Any]) -> tuple[list[str], list[str]]:
    """The account id and the organization id to store with each event (given the account and organization
    it names, '' for none), or UnknownAccounts listing every event that names an unknown account, or Forbidden
    naming the first event refused.

    ``rows`` are the look-up's (``idp.oauth.resource_access.state``); ``decided`` keeps the decisions for the
    next request answered by the same rows: the organization per event key, and under ``RENAMED`` the accounts
    to store otherwise than as named (so that the common batch, every account named by its sub, is returned
    as it came).
    """
    first = rows[0]
    if first[CLIENT_ID] is None:
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
        found = Accounts(rows)
        by_email = bool(first[EVENTS_BY_EMAIL])
        user_token = "gid" in claims
        sub = claims["sub"] if user_token else None
        first_party, client_org = bool(first[FIRST_PARTY]), first[CLIENT_ORGANIZATION]
        ids = {key: found.find(distinct[key][0], by_email) for key in new}
        if by_email and not user_token and not first_party:
            # An address outside the client's organization is answered as an unknown one: an organization's
            # client must not learn which addresses have accounts in other tenants.
            for key, account_id in ids.items():
                if account_id is not None and account_id != distinct[key][0] \
                        and client_org not in found.organizations.get(account_id, ()):
                    ids[key] = None
        unknown = {key for key, account_id in ids.items() if account_id is None}
        if unknown:
            raise UnknownAccounts([{"index": index, "field": "account", "message": _unknown(key, distinct, by_email)}
                                   for index, key in enumerate(keys) if key in unknown])
        refused: dict[Any, RefusedEvent] = {}
        for key in new:
            account, named = distinct[key]
            account_id = ids[key]
            assert account_id is not None
            try:
                decided[key] = organization(account, account_id, named, found, user_token, sub, first_party,
                                            client_org)
            except RefusedEvent as refusal:
                refused[key] = refusal
                continue
            if account_id != account:
                decided.setdefault(RENAMED, {})[key] = account_id
        if refused:
            errors = [{"index": index, "field": refused[key].field, "message": refused[key].description}
                      for index, key in enumerate(keys) if key in refused]
            raise RefusedEvents(f"event {errors[0]['index']}: {errors[0]['message']}", errors)
    organizations = list(map(decided.__getitem__, keys))
    renamed = decided.get(RENAMED)
    if renamed:
        accounts = [renamed.get(key, account) for key, account in zip(keys, accounts, strict=True)]
    return accounts, organizations


def _unknown(key: Any, distinct: dict[Any, tuple[str, str]], by_email: bool) -> str:
    account = distinct[key][0]
    if "@" in account and not by_email:
        return (f"no account with sub {account!r}: this client names accounts by sub (it is not registered to "
                "name them by e-mail address)")
    return f"no account {account!r}"


def organization(account: str, account_id: str, posted: str, found: Accounts, user_token: bool, sub: str | None,
                 first_party: bool, client_org: str | None) -> str:
    """The organization id to store with an event about ``account`` (as the event names it; ``account_id``
    its sub) that names ``posted`` (an organization id or slug, '' for none), or RefusedEvent."""
    if user_token and account_id != sub:
        raise RefusedEvent("a user's token may only post events about that user", "account")
    member_of = found.organizations.get(account_id, set())
    if not user_token and not first_party and (client_org is None or client_org not in member_of):
        raise RefusedEvent(f"account {account!r} is not in this client's organization", "account")
    if posted:
        chosen = posted if posted in member_of else found.slugs.get(account_id, {}).get(posted)
        if chosen is None:
            raise RefusedEvent(f"account {account!r} is not a member of organization {posted!r}", "organization")
        return chosen
    if not user_token and client_org in member_of:
        return client_org or ""
    if len(member_of) == 1:
        return next(iter(member_of))
    return ""
