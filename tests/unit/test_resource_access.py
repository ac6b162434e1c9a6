"""The resource-access service: the token usability rule, the posting policy and their caches.

The rule and the policy are checked on rows as the look-up returns them, then the service end to end on a real
accounts database, SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.models import Organization, User
from idp.accounts.service import add_member, create_organization, create_user, disable_user, remove_member
from idp.db import make_engine, make_session_factory, transaction
from idp.migrate import migrate_sql
from idp.oauth.clients import create_client, delete_client
from idp.oauth.errors import Forbidden, InsufficientScope, InvalidTokenError, OAuthError
from idp.oauth.keys import KeyStore, ensure_key
from idp.oauth.models import Client, Grant
from idp.oauth.resource_access import ResourceAccess, UnknownAccounts, Unusable
from idp.oauth.resource_access.claims_cache import ClaimsCache
from idp.oauth.resource_access.posting import resolve
from idp.oauth.resource_access.state import problem
from idp.oauth.tokens import InvalidToken, TokenPolicy, TokenService
from idp.settings import Settings
from tests.unit.conftest import Clock

SCOPE = "events:write"


@contextlib.contextmanager
def raises(kind: type[OAuthError], description: str) -> Iterator[None]:
    """``kind`` raised with exactly ``description``."""
    with pytest.raises(kind) as caught:
        yield
    assert caught.value.description == description


# --- the rule, on rows -----------------------------------------------------------------------------------------
def row(revoked: int = 0, grant_active: int = 1, user_enabled: int = 1, client: str | None = "c",
        first_party: bool = False, client_org: str | None = "acme", member: str | None = None,
        member_org: str | None = None, account: str | None = None, by_email: bool = False) -> tuple[Any, ...]:
    """A row of the look-up; an account's e-mail is ``<id>@example.com``, an organization's slug ``<id>-slug``."""
    account = account or member
    return (revoked, grant_active, user_enabled, client, first_party, client_org, member, member_org, account,
            None if account is None else f"{account}@example.com",
            None if member_org is None else f"{member_org}-slug", by_email)


@pytest.mark.parametrize(("state", "expected"), [
    (row(), None),
    (row(revoked=1), Unusable.REVOKED),
    (row(grant_active=0), Unusable.REVOKED),
    (row(user_enabled=0), Unusable.DISABLED),
    (row(client=None), Unusable.CLIENT_GONE),
    # In the rule's order: revoked before disabled before a client that is gone.
    (row(revoked=1, user_enabled=0, client=None), Unusable.REVOKED),
    (row(user_enabled=0, client=None), Unusable.DISABLED),
])
def test_usability_rule(state: tuple[Any, ...], expected: Unusable | None) -> None:
    assert problem(state) is expected


# --- the posting policy, on rows -------------------------------------------------------------------------------
CLIENT_TOKEN = {"sub": "c", "client_id": "c"}
USER_TOKEN = {"sub": "u1", "client_id": "c", "gid": "g"}


def members(*pairs: tuple[str, str], alone: tuple[str, ...] = (), **client: Any) -> list[Any]:
    """Rows for accounts with these memberships, and accounts in ``alone`` with none."""
    rows = [row(member=user, member_org=org, **client) for user, org in pairs]
    rows += [row(account=user, **client) for user in alone]
    return rows or [row(**client)]


def organizations(claims: dict[str, Any], rows: list[Any], accounts: list[str], posted: list[str],
                  decided: dict[Any, Any]) -> list[str]:
    stored, orgs = resolve(claims, rows, accounts, posted, decided)
    assert [a.removesuffix("@example.com") for a in accounts] == stored
    return orgs


def test_organization_client_posts_for_its_members_stored_with_its_organization() -> None:
    rows = members(("u1", "acme"), ("u1", "other"), ("u2", "acme"))
    assert organizations(CLIENT_TOKEN, rows, ["u1", "u2", "u1"], ["", "", ""], {}) == ["acme", "acme", "acme"]
    # An event may name another organization of the account's, by id or by slug; the id is stored.
    assert organizations(CLIENT_TOKEN, rows, ["u1"], ["other"], {}) == ["other"]
    assert organizations(CLIENT_TOKEN, rows, ["u1", "u1"], ["other-slug", "acme"], {}) == ["other", "acme"]


@pytest.mark.parametrize(("rows", "accounts", "posted", "message"), [
    (members(("u1", "other")), ["u1"], [""], "event 0: account 'u1' is not in this client's organization"),
    (members(alone=("u9",)), ["u9"], [""], "event 0: account 'u9' is not in this client's organization"),
    (members(("u1", "acme")), ["u1"], ["beta"], "event 0: account 'u1' is not a member of organization 'beta'"),
    (members(("u1", "acme")), ["u1"], ["acme-slug-x"],
     "event 0: account 'u1' is not a member of organization 'acme-slug-x'"),
    (members(("u1", "acme"), client_org=None), ["u1"], [""],
     "event 0: account 'u1' is not in this client's organization"),
    (members(("u1", "acme"), client=None), ["u1"], [""], "the token's client no longer exists"),
    # The refusal names the first refused event, not the first distinct account checked.
    (members(("u1", "acme"), ("u2", "beta")), ["u1", "u1", "u2", "u1"], ["", "", "", ""],
     "event 2: account 'u2' is not in this client's organization"),
    (members(("u1", "acme")), ["u1", "u1", "u1"], ["", "acme", "beta"],
     "event 2: account 'u1' is not a member of organization 'beta'"),
])
def test_organization_client_refusals(rows: list[Any], accounts: list[str], posted: list[str], message: str) -> None:
    with pytest.raises(Forbidden) as refused:
        organizations(CLIENT_TOKEN, rows, accounts, posted, {})
    assert refused.value.description == message
    assert (refused.value.error, refused.value.status) == ("forbidden", 403)


def test_unknown_accounts_are_listed_by_index_and_field_for_every_kind_of_token() -> None:
    for claims, first_party in ((CLIENT_TOKEN, True), (CLIENT_TOKEN, False), (USER_TOKEN, True)):
        rows = members(("u1", "acme"), first_party=first_party)
        with pytest.raises(UnknownAccounts) as unknown:
            organizations(claims, rows, ["u1", "nobody", "u1", "nobody", "ghost"], [""] * 5, {})
        assert unknown.value.errors == [
            {"index": 1, "field": "account", "message": "no account 'nobody'"},
            {"index": 3, "field": "account", "message": "no account 'nobody'"},
            {"index": 4, "field": "account", "message": "no account 'ghost'"},
        ]


def test_accounts_are_named_by_e_mail_only_when_the_client_is_registered_for_it() -> None:
    allowed = members(("u1", "acme"), first_party=True, by_email=True)
    assert resolve(CLIENT_TOKEN, allowed, ["U1@Example.com ", "u1"], ["", ""], {}) == (["u1", "u1"],
                                                                                      ["acme", "acme"])
    refused = members(("u1", "acme"), first_party=True)
    with pytest.raises(UnknownAccounts) as unknown:
        resolve(CLIENT_TOKEN, refused, ["u1@example.com"], [""], {})
    assert unknown.value.errors[0]["index"] == 0 and unknown.value.errors[0]["field"] == "account"
    assert "not registered to name them by e-mail" in unknown.value.errors[0]["message"]
    user_rows = members(("u1", "acme"), by_email=True)
    assert resolve(USER_TOKEN, user_rows, ["u1@example.com"], [""], {}) == (["u1"], ["acme"])


def test_first_party_client_posts_for_anyone() -> None:
    rows = members(("u1", "acme"), ("u2", "north"), ("u2", "south"), alone=("u9",), first_party=True,
                   client_org=None)
    # One organization: stored with it; several and none named: none; none at all: none.
    assert organizations(CLIENT_TOKEN, rows, ["u1", "u2", "u9"], ["", "", ""], {}) == ["acme", "", ""]
    assert organizations(CLIENT_TOKEN, rows, ["u2"], ["south"], {}) == ["south"]
    with pytest.raises(Forbidden, match="event 0: account 'u9' is not a member of organization 'acme'"):
        organizations(CLIENT_TOKEN, rows, ["u9"], ["acme"], {})


def test_user_token_posts_about_its_user_only() -> None:
    rows = members(("u1", "acme"), ("u1", "beta"), alone=("u2",))
    assert organizations(USER_TOKEN, rows, ["u1"], [""], {}) == [""]  # two organizations, none named
    assert organizations(USER_TOKEN, rows, ["u1"], ["beta"], {}) == ["beta"]
    assert organizations(USER_TOKEN, members(("u1", "acme")), ["u1"], [""], {}) == ["acme"]
    with pytest.raises(Forbidden, match="event 1: a user's token may only post events about that user"):
        organizations(USER_TOKEN, rows, ["u1", "u2"], ["", ""], {})


def test_decisions_are_kept_per_answer() -> None:
    rows = members(("u1", "acme"))
    decided: dict[Any, Any] = {}
    assert organizations(CLIENT_TOKEN, rows, ["u1"], [""], decided) == ["acme"]
    assert decided == {"u1": "acme"}
    decided["u1"] = "kept"  # the next request with the same answer asks nothing again
    assert organizations(CLIENT_TOKEN, rows, ["u1", "u1"], ["", ""], decided) == ["kept", "kept"]


# --- the claims cache ------------------------------------------------------------------------------------------
def test_claims_cache_keeps_verified_claims_a_minute_and_checks_expiry_every_time() -> None:
    clock = Clock(1000.0)
    decoded: list[str] = []

    def decode(token: str) -> dict[str, Any]:
        decoded.append(token)
        if token == "bad":
            raise InvalidToken("bad signature")
        return {"exp": 1100, "token": token}

    cache = ClaimsCache(decode, seconds=60, size=2, clock=clock)
    assert cache.claims("a")["token"] == "a"
    clock.now = 1059.9
    cache.claims("a")
    assert decoded == ["a"]
    clock.now = 1060.0  # kept 60 s at most
    cache.claims("a")
    assert decoded == ["a", "a"]
    clock.now = 1100.0  # expired: decoded again (and decode's verdict is the answer)
    cache.claims("a")
    assert decoded == ["a", "a", "a"]
    with pytest.raises(InvalidToken):
        cache.claims("bad")
    clock.now = 1000.0
    cache.claims("b")
    cache.claims("c")  # full: emptied, then kept
    cache.claims("b")
    assert decoded[-3:] == ["b", "c", "b"]


# --- the service on a real database ----------------------------------------------------------------------------
@dataclass
class World:
    factory: sessionmaker[Session]
    tokens: TokenService
    access: ResourceAccess
    org: Organization
    client: Client
    user: User

    def client_token(self, client: Client | None = None, scope: str = SCOPE) -> str:
        client = client or self.client
        return self.tokens.access_token(client=client, subject=client.client_id, scope=scope)[0]

    def user_token(self, user: User | None = None, scope: str = SCOPE) -> tuple[str, str]:
        user = user or self.user
        grant_id = os.urandom(16).hex()
        with transaction(self.factory) as db:
            db.add(Grant(id=grant_id, client_id=self.client.client_id, user_id=user.id))
        token = self.tokens.access_token(client=self.client, subject=user.id, scope=scope, grant_id=grant_id)[0]
        return token, grant_id


@pytest.fixture()
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    migrate_sql(settings)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    suffix = os.urandom(4).hex()
    with transaction(factory) as db:
        ensure_key(db, "RS256")
        org = create_organization(db, slug=f"acme-{suffix}")
        client, _ = create_client(db, name="rs", grant_types=["client_credentials"], scope=f"{SCOPE} openid",
                                  organization_id=org.id)
        user = create_user(db, email=f"u-{suffix}@example.com", password=None)
        add_member(db, user, org)
    tokens = TokenService(KeyStore(factory, max_token_ttl=600), TokenPolicy("https://canary.example", 600, 600, 600))
    access = ResourceAccess(tokens, engine, embedded=settings.embedded_database)
    yield World(factory, tokens, access, org, client, user)
    engine.dispose()


def test_verify_applies_the_rule_to_a_client_token(world: World) -> None:
    token = world.client_token()
    assert world.access.verify(token, SCOPE)["client_id"] == world.client.client_id
    with pytest.raises(InsufficientScope, match="lacks the 'admin' scope"):
        world.access.verify(token, "admin")
    with transaction(world.factory) as db:
        world.tokens.revoke_access_token(db, world.tokens.decode(token))
    with raises(InvalidTokenError, "the access token is invalid: token revoked"):
        world.access.verify(token)
    other = world.client_token()
    with transaction(world.factory) as db:
        client = db.get(Client, world.client.client_id)
        assert client is not None
        delete_client(db, client)
    with raises(InvalidTokenError, "the token's client no longer exists"):
        world.access.verify(other)
    with raises(InvalidTokenError, "an access token is required"):
        world.access.verify(None)
    with raises(InvalidTokenError, "the access token is invalid: not a JWT access token"):
        world.access.verify("garbage")


def test_verify_applies_the_rule_to_a_user_token(world: World) -> None:
    token, grant_id = world.user_token()
    with world.factory() as db:  # the caller's session may carry the look-up
        assert world.access.verify(token, SCOPE, db=db)["sub"] == world.user.id
    with transaction(world.factory) as db:
        user = db.get(User, world.user.id)
        assert user is not None
        disable_user(db, user)
    with raises(InvalidTokenError, "the access token is invalid: account disabled"):
        world.access.verify(token)
    with transaction(world.factory) as db:
        world.tokens.revoke_grant(db, grant_id)
    with raises(InvalidTokenError, "the access token is invalid: token revoked"):
        world.access.verify(token)


def test_posting_reads_state_and_memberships_and_sees_every_change_at_once(world: World) -> None:
    access = world.access
    claims = access.claims(world.client_token(), SCOPE)
    user = world.user.id

    def post() -> list[str]:
        posting = access.posting(claims, [user])
        posting.check_token()
        return posting.resolve([user, user], ["", ""])[1]

    assert post() == [world.org.id, world.org.id]
    assert post() == [world.org.id, world.org.id]  # again, from the kept answer on SQLite
    with transaction(world.factory) as db:
        remove_member(db, user, world.org.id)
    with raises(Forbidden, f"event 0: account '{user}' is not in this client's organization"):
        post()
    with transaction(world.factory) as db:
        world.tokens.revoke_access_token(db, claims)
    with pytest.raises(InvalidTokenError, match="token revoked"):
        access.posting(claims, [user]).check_token()


def test_a_gone_client_is_a_refusal_of_the_posting_not_a_token_problem(world: World) -> None:
    claims = world.access.claims(world.client_token(), SCOPE)
    with transaction(world.factory) as db:
        client = db.get(Client, world.client.client_id)
        assert client is not None
        delete_client(db, client)
    posting = world.access.posting(claims, [world.user.id])
    posting.check_token()  # answered after the body's own problems
    with raises(Forbidden, "the token's client no longer exists"):
        posting.resolve([world.user.id], [""])


def test_claims_checks_signature_and_scope_without_the_database(world: World) -> None:
    token = world.client_token(scope="openid")
    with pytest.raises(InsufficientScope, match="lacks the 'events:write' scope"):
        world.access.claims(token, SCOPE)
    with raises(InvalidTokenError, "the access token is invalid: not a JWT access token"):
        world.access.claims("x.y", SCOPE)
    with raises(InvalidTokenError, "an access token is required"):
        world.access.claims("", SCOPE)


def test_accounts_named_by_e_mail_are_stored_by_sub_from_kept_decisions_too() -> None:
    rows = members(("u1", "acme"), ("u2", "acme"), first_party=True, by_email=True)
    decided: dict[Any, Any] = {}
    named = ["u1@example.com", "u2", "u1@example.com"]
    assert resolve(CLIENT_TOKEN, rows, named, ["", "", ""], decided) == (["u1", "u2", "u1"], ["acme"] * 3)
    assert resolve(CLIENT_TOKEN, rows, named, ["", "", ""], decided) == (["u1", "u2", "u1"], ["acme"] * 3)
    by_sub = ["u2", "u2"]
    assert resolve(CLIENT_TOKEN, rows, by_sub, ["", "acme-slug"], {})[0] is by_sub  # nothing to rename: as given
