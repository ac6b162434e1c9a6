"""The token endpoint's in-memory client cache: freshness rules and isolation from sessions."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from idp.oauth.client_cache import ClientCache, forget_client
from idp.oauth.clients import create_client, rotate_secret, update_client
from idp.oauth.models import Client
from tests.unit.conftest import Clock


def new_client(factory: sessionmaker[Session]) -> tuple[str, str]:
    with factory() as db:
        client, secret = create_client(db, name="rs", grant_types=["client_credentials"], scope="events:write")
        db.commit()
        assert secret is not None
        return client.client_id, secret


def count_selects(factory: sessionmaker[Session]) -> list[str]:
    seen: list[str] = []
    event.listen(factory.kw["bind"], "before_cursor_execute",
                 lambda conn, cursor, statement, *a: seen.append(statement) if "FROM clients" in statement else None)
    return seen


def test_hit_needs_no_query_and_returns_a_detached_copy(factory: sessionmaker[Session]) -> None:
    client_id, secret = new_client(factory)
    cache = ClientCache(ttl=10)
    selects = count_selects(factory)
    with factory() as db:
        first = cache.get(db, client_id)
        assert first is not None and first not in db  # a copy, not the session's row
    with factory() as db:
        assert cache.get(db, client_id) is first
    assert len(selects) == 1
    assert first.check_client_secret(secret) and first.check_grant_type("client_credentials")


def test_entries_expire_after_ttl(factory: sessionmaker[Session]) -> None:
    client_id, _ = new_client(factory)
    clock = Clock()
    cache = ClientCache(ttl=10, clock=clock)
    selects = count_selects(factory)
    with factory() as db:
        cache.get(db, client_id)
        clock.now += 9.9
        cache.get(db, client_id)
        assert len(selects) == 1
        clock.now += 0.2
        cache.get(db, client_id)
        assert len(selects) == 2


def test_changes_in_this_process_are_seen_at_once(factory: sessionmaker[Session]) -> None:
    client_id, old = new_client(factory)
    cache = ClientCache(ttl=3600)
    with factory() as db:
        assert cache.get(db, client_id) is not None
    with factory() as db:
        row = db.get(Client, client_id)
        assert row is not None
        new = rotate_secret(db, row)
        db.commit()
    with factory() as db:
        fresh = cache.get(db, client_id)
        assert fresh is not None and fresh.check_client_secret(new) and not fresh.check_client_secret(old)
    with factory() as db:
        row = db.get(Client, client_id)
        assert row is not None
        update_client(db, row, scope="events:write admin")
        db.commit()
    with factory() as db:
        fresh = cache.get(db, client_id)
        assert fresh is not None and "admin" in fresh.allowed_scopes()


def test_a_load_racing_with_a_change_is_not_kept(factory: sessionmaker[Session]) -> None:
    client_id, _ = new_client(factory)
    cache = ClientCache(ttl=3600)
    selects = count_selects(factory)

    def change_during_load(*_: object) -> None:
        cache.forget(client_id)  # what a concurrent commit elsewhere in the process does

    event.listen(factory.kw["bind"], "after_cursor_execute", change_during_load)
    with factory() as db:
        assert cache.get(db, client_id) is not None
    event.remove(factory.kw["bind"], "after_cursor_execute", change_during_load)
    with factory() as db:
        assert cache.get(db, client_id) is not None
    assert len(selects) == 2 and len(cache) == 1


def test_unknown_ids_are_not_cached_and_zero_ttl_disables(factory: sessionmaker[Session]) -> None:
    client_id, _ = new_client(factory)
    cache = ClientCache(ttl=10)
    off = ClientCache(ttl=0)
    with factory() as db:
        for n in range(50):
            assert cache.get(db, f"unknown-{n}") is None
        assert off.get(db, client_id) is not None
    assert len(cache) == 0 and len(off) == 0


def test_size_is_bounded(factory: sessionmaker[Session]) -> None:
    ids = [new_client(factory)[0] for _ in range(5)]
    cache = ClientCache(ttl=10, max_entries=3)
    with factory() as db:
        for client_id in ids:
            cache.get(db, client_id)
    assert len(cache) == 3


def test_forget_after_rollback_is_discarded(factory: sessionmaker[Session]) -> None:
    client_id, _ = new_client(factory)
    with factory() as db:
        assert db.get(Client, client_id) is not None
        forget_client(db, client_id)
        assert db.info
        db.rollback()
        assert not db.info


def test_has_tells_whether_get_would_answer_from_memory(factory: sessionmaker[Session]) -> None:
    client_id, _ = new_client(factory)
    clock = Clock()
    cache = ClientCache(ttl=10, clock=clock)
    assert not cache.has(client_id)
    with factory() as db:
        cache.get(db, client_id)
    assert cache.has(client_id) and not cache.has("someone-else")
    clock.now += 11
    assert not cache.has(client_id)
