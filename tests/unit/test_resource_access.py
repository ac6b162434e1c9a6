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
from idp.oauth.resource_access import ResourceAccess, Unusable
from idp.oauth.resource_access.claims_cache import ClaimsCache
from idp.oauth.resource_access.posting import organizations
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
        member_org: str | None = None) -> tuple[Any, ...]:
    return (revoked, grant_active, user_enabled, client, first_party, client_org, member, member_org)


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


def members(*pairs: tuple[str, str], **client: Any) -> list[Any]:
    return [row(member=user, member_org=org, **client) for user, org in pairs] or [row(**client)]


def test_organization_client_posts_for_its_members_stored_with_its_organization() -> None:
    rows = members(("u1", "acme"), ("u1", "other"), ("u2", "acme"))
    assert organizations(CLIENT_TOKEN, rows, ["u1", "u2", "u1"], ["", "", ""], {}) == ["acme", "acme", "acme"]
    # An event may name another organization of the account's.
    assert organizations(CLIENT_TOKEN, rows, ["u1"], ["other"], {}) == ["other"]


@pytest.mark.parametrize(("rows", "accounts", "posted", "message"), [
    (members(("u1", "other")), ["u1"], [""], "event 0: account 'u1' is not in this client's organization"),
    (members(), ["u9"], [""], "event 0: account 'u9' is not in this client's organization"),
    (members(("u1", "acme")), ["u1"], ["beta"], "event 0: account 'u1' is not a member of 'beta'"),
    (members(("u1", "acme"), client_org=None), ["u1"], [""],
     "event 0: account 'u1' is not in this client's organization"),
    (members(("u1", "acme"), client=None), ["u1"], [""], "the token's client no longer exists"),
    # The refusal names the first refused event, not the first distinct account checked.
    (members(("u1", "acme")), ["u1", "u1", "u2", "u1"], ["", "", "", ""],
     "event 2: account 'u2' is not in this client's organization"),
    (members(("u1", "acme")), ["u1", "u1", "u1"], ["", "acme", "beta"],
     "event 2: account 'u1' is not a member of 'beta'"),
])
def test_organization_client_refusals(rows: list[Any], accounts: list[str], posted: list[str], message: str) -> None:
    with pytest.raises(Forbidden) as refused:
        organizations(CLIENT_TOKEN, rows, accounts, posted, {})
    assert refused.value.description == message
    assert (refused.value.error, refused.value.status) == ("forbidden", 403)


def test_first_party_client_posts_for_anyone() -> None:
    rows = members(("u1", "acme"), ("u2", "north"), ("u2", "south"), first_party=True, client_org=None)
    # One organization: stored with it; several and none named: none; unknown accounts too.
    assert organizations(CLIENT_TOKEN, rows, ["u1", "u2", "u9"], ["", "", ""], {}) == ["acme", "", ""]
    assert organizations(CLIENT_TOKEN, rows, ["u2"], ["south"], {}) == ["south"]
    with pytest.raises(Forbidden, match="event 0: account 'u9' is not a member of 'acme'"):
        organizations(CLIENT_TOKEN, rows, ["u9"], ["acme"], {})


def test_user_token_posts_about_its_user_only() -> None:
    rows = members(("u1", "acme"), ("u1", "beta"))
    assert organizations(USER_TOKEN, rows, ["u1"], [""], {}) == [""]  # two organizations, none named
    assert organizations(USER_TOKEN, rows, ["u1"], ["beta"], {}) == ["beta"]
    assert organizations(USER_TOKEN, members(("u1", "acme")), ["u1"], [""], {}) == ["acme"]
    with pytest.raises(Forbidden, match="event 1: a user's token may only post events about that user"):
        organizations(USER_TOKEN, rows, ["u1", "u2"], ["", ""], {})


def test_decisions_are_kept_per_answer() -> None:
    rows = members(("u1", "acme"))
    decided: dict[Any, str] = {}
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
        return posting.organizations([user, user], ["", ""])

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
        posting.organizations([world.user.id], [""])


def test_claims_checks_signature_and_scope_without_the_database(world: World) -> None:
    token = world.client_token(scope="openid")
    with pytest.raises(InsufficientScope, match="lacks the 'events:write' scope"):
        world.access.claims(token, SCOPE)
    with raises(InvalidTokenError, "the access token is invalid: not a JWT access token"):
        world.access.claims("x.y", SCOPE)
    with raises(InvalidTokenError, "an access token is required"):
        world.access.claims("", SCOPE)
