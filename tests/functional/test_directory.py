"""The provider's account directory (SQLite and PostgreSQL) answers like the in-memory one analytics'
query tests use, for every method of `AccountDirectory`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.directory import AccountDirectory, AccountRef, InMemoryDirectory, Roster
from idp.accounts.models import Membership, Organization, User
from idp.db import make_engine, make_session_factory
from idp.directory import LOOKUP_CHUNK, SqlAccountDirectory
from idp.migrate import migrate_sql
from idp.settings import Settings
from tests.support.postgres import own_accounts_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORGS = ("org-a", "org-b", "org-c")


def _refs(count: int) -> list[AccountRef]:
    refs = []
    for n in range(count):
        # org-c has no members; some accounts belong to none, some to two.
        organizations = () if n % 7 == 0 else ("org-a", "org-b") if n % 5 == 0 else (ORGS[n % 2],)
        refs.append(AccountRef(f"sub-{n:04d}", f"user{n}@example.com", f"User {n}", T0 + timedelta(hours=n),
                               organizations))
    return refs


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def directories(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[SqlAccountDirectory, InMemoryDirectory]]:
    """A database of its own (its accounts are the only ones), and the same accounts in memory."""
    data_dir = Path(tmp_path_factory.mktemp("data"))
    with own_accounts_database(request.param, data_dir, "canary_directory") as database_url:
        yield from _directories(database_url, data_dir)


def _directories(database_url: str, data_dir: Path) -> Iterator[tuple[SqlAccountDirectory, InMemoryDirectory]]:
    migrate_sql(Settings.from_env({}, database_url=database_url, data_dir=data_dir))
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    refs = _refs(LOOKUP_CHUNK + 150)  # lookups cross a chunk boundary
    with factory.begin() as db:
        db.add_all(Organization(id=org, slug=org, name=org) for org in ORGS)
        db.flush()
        db.add_all(User(id=ref.sub, email=ref.email, name=ref.name, created_at=ref.created_at) for ref in refs)
        db.flush()
        db.add_all(Membership(user_id=ref.sub, organization_id=org) for ref in refs for org in ref.organizations)
    yield SqlAccountDirectory(factory), InMemoryDirectory(refs, {"org-c"})
    engine.dispose()


@pytest.mark.parametrize("organization", [None, "org-a", "org-b", "org-c"])
def test_accounts_and_members(directories: tuple[AccountDirectory, AccountDirectory], organization: str | None) -> None:
    sql, memory = directories
    assert sorted(sql.accounts(organization), key=lambda ref: ref.sub) == memory.accounts(organization)
    if organization is not None:
        assert sorted(sql.members(organization)) == memory.members(organization)
        assert sql.organization_exists(organization)
    assert not sql.organization_exists("org-z")


@pytest.mark.parametrize("organization", [None, "org-a", "org-c"])
@pytest.mark.parametrize("hours", [0, 1, 333, 10_000])
def test_roster_splits_at_the_creation_time(
    directories: tuple[AccountDirectory, AccountDirectory], organization: str | None, hours: int
) -> None:
    sql, memory = directories
    at = T0 + timedelta(hours=hours)
    got, expected = sql.roster(organization, at), memory.roster(organization, at)
    assert sorted(got.subs) == sorted(expected.subs)
    assert sorted(got.newer) == sorted(expected.newer)
    assert set(got.newer) <= set(got.subs)
    # Created exactly at the split: newer; an hour before: not.
    if organization is None and 0 < hours < LOOKUP_CHUNK:
        assert f"sub-{hours:04d}" in got.newer and f"sub-{hours - 1:04d}" not in got.newer


def test_lookup_keeps_the_order_asked_and_leaves_unknown_subs_out(
    directories: tuple[AccountDirectory, AccountDirectory],
) -> None:
    sql, memory = directories
    asked = [f"sub-{n:04d}" for n in range(LOOKUP_CHUNK + 149, -1, -3)] + ["nobody"]
    found = sql.lookup(asked)
    assert list(found) == [sub for sub in asked if sub != "nobody"]
    assert found == memory.lookup(asked)
    assert found["sub-0010"].organizations == ("org-a", "org-b")
    assert found["sub-0010"].created_at == T0 + timedelta(hours=10)
    assert sql.lookup([]) == {}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_people_invited_are_in_the_roster_from_their_invitation_but_not_members(
    kind: str, tmp_path: Path,
) -> None:
    """Memberships still ``invited``: `members` leaves them out, `roster` holds them with the time of the
    invitation (split by it, not by the account's creation), details carry them as `invitations`."""
    invited_at = T0 + timedelta(days=30)
    refs = [
        AccountRef("joined", "joined@example.com", "Joined", T0, ("org-a",)),
        # Created long before the invitation into org-a; a member of org-b.
        AccountRef("invited", "invited@example.com", "Invited", T0, ("org-a", "org-b"), (("org-a", invited_at),)),
        AccountRef("new", "new@example.com", "", invited_at, ("org-a",), (("org-a", invited_at),)),
    ]
    with own_accounts_database(kind, tmp_path, "canary_directory_invited") as database_url:
        migrate_sql(Settings.from_env({}, database_url=database_url, data_dir=tmp_path))
        engine = make_engine(database_url)
        factory = make_session_factory(engine)
        with factory.begin() as db:
            db.add_all(Organization(id=org, slug=org, name=org) for org in ("org-a", "org-b"))
            db.flush()
            db.add_all(User(id=ref.sub, email=ref.email, name=ref.name, created_at=ref.created_at) for ref in refs)
            db.flush()
            for ref in refs:
                pending = dict(ref.invitations)
                db.add_all(Membership(user_id=ref.sub, organization_id=org, state="invited" if org in pending else
                                      "active", invited_at=pending.get(org)) for org in ref.organizations)
        sql, memory = SqlAccountDirectory(factory), InMemoryDirectory(refs)
        try:
            assert sql.members("org-a") == memory.members("org-a") == ["joined"]
            assert sql.members("org-b") == memory.members("org-b") == ["invited"]
            for organization in (None, "org-a", "org-b"):
                assert sorted(sql.accounts(organization), key=lambda ref: ref.sub) == sorted(
                    memory.accounts(organization), key=lambda ref: ref.sub)
                for at in (T0, T0 + timedelta(days=1), invited_at, invited_at + timedelta(seconds=1)):
                    got, expected = sql.roster(organization, at), memory.roster(organization, at)
                    assert (sorted(got.subs), sorted(got.newer), got.invited) == (
                        sorted(expected.subs), sorted(expected.newer), expected.invited), (organization, at)
            roster = sql.roster("org-a", T0 + timedelta(days=1))
            assert sorted(roster.newer) == ["invited", "new"]
            assert roster.invited == {"invited": invited_at, "new": invited_at}
            assert sql.roster("org-b", T0 + timedelta(days=1)) == Roster(["invited"], [], {})
            assert sql.lookup(["invited", "joined"]) == memory.lookup(["invited", "joined"])
            assert sql.lookup(["invited"])["invited"].invitations == (("org-a", invited_at),)
        finally:
            engine.dispose()
