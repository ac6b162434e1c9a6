"""Refresh-token rotation at the storage level (``idp.oauth.refresh_tokens``), on SQLite and PostgreSQL: one
statement on PostgreSQL, two in one transaction on SQLite; exactly one of two uses of a token wins, also when
the second waits for the first to commit."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from idp.db import utcnow
from idp.oauth import refresh_tokens
from idp.oauth.models import Grant
from idp.opaque import digest
from tests.functional.conftest import Provider
from tests.support.rotation import family, first_token, successor_of
from tests.support.tokens import tokens_for


def test_rotation_spends_the_presented_token_and_stores_its_successor_once(provider: Provider) -> None:
    first, _ = first_token(provider)
    second, third = successor_of(first), successor_of(first)
    with provider.context.factory() as db:
        presented = refresh_tokens.presented(db, first.value)
        assert presented is not None and not presented.spent
        assert refresh_tokens.rotate(db, presented.token_hash, second, utcnow())
        db.commit()
    with provider.context.factory() as db:
        assert not refresh_tokens.rotate(db, digest(first.value), third, utcnow())
        db.commit()
        again = refresh_tokens.presented(db, first.value)
        assert again is not None and again.spent
    assert family(provider, first.row["grant_id"]) == {first.row["token_hash"]: True,
                                                       second.row["token_hash"]: False}


def test_a_rotation_waiting_on_a_concurrent_one_finds_the_token_spent(provider: Provider) -> None:
    """The first use holds the row (PostgreSQL's row lock, SQLite's write gate) until it commits; the second,
    started meanwhile through the refresh grant's own path, must then store nothing."""
    first, _ = first_token(provider)
    winner, loser = successor_of(first), successor_of(first)
    factory = provider.context.factory
    holding = factory()
    holding.connection()  # a transaction of its own (not the refresh path's autocommit)
    assert refresh_tokens.rotate(holding, first.row["token_hash"], winner, utcnow())
    started = threading.Event()

    def second_use() -> bool:
        with factory() as db:
            presented = refresh_tokens.presented(db, first.value)
            assert presented is not None and not presented.spent  # the first use has not committed yet
            started.set()
            won = refresh_tokens.rotate(db, presented.token_hash, loser, utcnow())
            db.commit()
            return won

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(second_use)
        assert started.wait(10)
        try:
            pending.result(timeout=0.5)
            raise AssertionError("the second rotation did not wait for the first one's commit")
        except TimeoutError:
            pass
        holding.commit()
        holding.close()
        assert pending.result(timeout=10) is False
    assert family(provider, first.row["grant_id"]) == {first.row["token_hash"]: True,
                                                       winner.row["token_hash"]: False}


def test_the_refresh_session_leaves_its_pooled_connection_transactional(provider: Provider,
                                                                         http: httpx.Client) -> None:
    """A refresh runs its connection in autocommit on PostgreSQL; the pool hands it back to the next session as
    it was: a rolled-back write is gone."""
    client_id, secret, body = tokens_for(provider, http)
    refreshed = httpx.post(f"{provider.url}/token", auth=(client_id, secret or ""),
                           data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200
    pool = provider.context.factory.kw["bind"].pool
    for _ in range(max(1, pool.checkedin())):  # each pooled connection in turn (the pool hands them out FIFO)
        with provider.context.factory() as db:
            marker = secrets.token_hex(8)
            db.add(Grant(id=marker, client_id=client_id, user_id=body["user"]))
            db.flush()
            db.rollback()
        with provider.context.factory() as db:
            assert db.get(Grant, marker) is None


def test_a_refresh_that_meets_a_write_held_elsewhere_waits_off_the_event_loop(provider: Provider,
                                                                            http: httpx.Client) -> None:
    """On SQLite a refresh runs on the event loop (``idp.loop_sessions``); a write lock held by another thread
    sends it to the thread pool to wait there, while the loop goes on answering. On PostgreSQL an unrelated
    write holds a refresh up not at all (a write to the token's own row: ``test_refresh_on_loop``)."""
    client_id, secret, body = tokens_for(provider, http)
    holding = provider.context.factory()
    holding.add(Grant(id=secrets.token_hex(16), client_id=client_id, user_id=body["user"]))
    holding.flush()  # SQLite: the process's write gate and the file's write lock, held until the rollback
    sqlite = provider.settings.database_url.startswith("sqlite")
    try:
        with ThreadPoolExecutor(1) as pool:
            refreshing = pool.submit(httpx.post, f"{provider.url}/token", auth=(client_id, secret or ""),
                                     data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                                     timeout=30)
            if sqlite:
                try:
                    refreshing.result(timeout=0.5)
                    raise AssertionError("the refresh did not wait for the write held elsewhere")
                except TimeoutError:
                    pass
            for _ in range(3):  # the loop is free meanwhile
                answered = http.get("/.well-known/openid-configuration", timeout=2)
                assert answered.status_code == 200
            holding.rollback()
            refreshed = refreshing.result(timeout=30)
    finally:
        holding.close()
    assert refreshed.status_code == 200, refreshed.text
    tokens = refreshed.json()
    assert tokens["refresh_token"] != body["refresh_token"] and "id_token" in tokens
    again = httpx.post(f"{provider.url}/token", auth=(client_id, secret or ""),
                       data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # spent: the family is revoked
