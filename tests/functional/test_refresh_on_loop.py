"""A refresh on PostgreSQL served on the event loop (``idp.loop_postgres``): its look-up and rotation awaited
there, the grant's synchronous part between them; the thread pool answers what the loop does not take."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from idp.db import utcnow
from idp.loop_postgres import LoopPostgres, Unavailable
from idp.oauth import refresh_tokens
from idp.oauth.models import Grant
from idp.opaque import digest
from tests.functional.conftest import Provider, start_provider
from tests.support.rotation import family, first_token, successor_of
from tests.support.tokens import tokens_for


@pytest.fixture(scope="module")
def pg_provider(postgres_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    provider, server = start_provider(tmp_path_factory.mktemp("loop-pg"), postgres_database)
    yield provider
    server.stop()


@pytest.fixture
def pg_http(pg_provider: Provider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pg_provider.url, follow_redirects=False, timeout=30) as client:
        yield client


def loop_connections(provider: Provider) -> LoopPostgres:
    pg = provider.context.server.loop_postgres
    assert pg is not None, "a PostgreSQL provider serves refreshes on the loop"
    return pg


def refresh(provider: Provider, client_id: str, secret: str | None, token: str) -> httpx.Response:
    return httpx.post(f"{provider.url}/token", auth=(client_id, secret or ""),
                      data={"grant_type": "refresh_token", "refresh_token": token}, timeout=30)


def test_a_refresh_rotates_on_the_loop(pg_provider: Provider, pg_http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(pg_provider, pg_http)
    pg = loop_connections(pg_provider)
    opened_before = pg._opened
    refreshed = refresh(pg_provider, client_id, secret, body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    tokens = refreshed.json()
    assert "id_token" in tokens and tokens["refresh_token"] != body["refresh_token"]
    assert pg._opened >= max(1, opened_before) and pg.in_use == 0  # a loop connection served it, and is back
    with pg_provider.context.factory() as db:
        grant_id = refresh_tokens.presented(db, tokens["refresh_token"]).grant_id  # type: ignore[union-attr]
    assert family(pg_provider, grant_id) == {digest(body["refresh_token"]): True,
                                             digest(tokens["refresh_token"]): False}
    again = refresh(pg_provider, client_id, secret, tokens["refresh_token"])
    assert again.status_code == 200, again.text


def test_a_replayed_token_revokes_its_family(pg_provider: Provider, pg_http: httpx.Client) -> None:
    """The loop leaves a spent token to the thread pool, whose grant revokes the family."""
    client_id, secret, body = tokens_for(pg_provider, pg_http)
    successor = refresh(pg_provider, client_id, secret, body["refresh_token"]).json()["refresh_token"]
    replay = refresh(pg_provider, client_id, secret, body["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "family is revoked" in replay.json()["error_description"]
    refused = refresh(pg_provider, client_id, secret, successor)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_rotation_waiting_on_a_row_lock_waits_on_the_loop_then_revokes(pg_provider: Provider,
                                                                          pg_http: httpx.Client) -> None:
    """Another use holds the token's row (rotated, not committed). The refresh reads the token unspent, signs,
    then its rotation waits for the row, awaited on the loop, which goes on answering; once the other use
    commits, the rotation finds the token spent: invalid_grant, and the family is revoked."""
    first, secret = first_token(pg_provider)
    winner = successor_of(first)
    client_id, grant_id = first.row["client_id"], first.row["grant_id"]
    pg = loop_connections(pg_provider)
    with pg_provider.context.factory() as db:  # a client in use is in the cache (one that is not: below)
        assert pg_provider.context.server.clients.get(db, client_id) is not None
    holding = pg_provider.context.factory()
    holding.connection()  # a transaction of its own
    assert refresh_tokens.rotate(holding, first.row["token_hash"], winner, utcnow())
    try:
        with ThreadPoolExecutor(1) as pool:
            refreshing = pool.submit(refresh, pg_provider, client_id, secret, first.value)
            deadline = time.monotonic() + 10
            while pg.in_use == 0 and not refreshing.done() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert pg.in_use == 1 and not refreshing.done(), "the refresh should be waiting on the loop"
            for _ in range(3):  # the loop is free meanwhile
                assert pg_http.get("/.well-known/openid-configuration", timeout=2).status_code == 200
            assert not refreshing.done()
            holding.commit()
            refused = refreshing.result(timeout=30)
    finally:
        holding.close()
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    assert family(pg_provider, grant_id) == {first.row["token_hash"]: True, winner.row["token_hash"]: False}
    with pg_provider.context.factory() as db:
        assert db.execute(select(Grant.revoked_at).where(Grant.id == grant_id)).scalar_one() is not None


def test_a_client_not_in_the_cache_is_served_by_the_thread_pool(pg_provider: Provider,
                                                                  pg_http: httpx.Client) -> None:
    client_id, secret, body = tokens_for(pg_provider, pg_http)
    pg_provider.context.server.clients.forget(client_id)
    refreshed = refresh(pg_provider, client_id, secret, body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert family(pg_provider, refreshed_grant(pg_provider, refreshed.json()["refresh_token"])) == {
        digest(body["refresh_token"]): True, digest(refreshed.json()["refresh_token"]): False}


def refreshed_grant(provider: Provider, token: str) -> str:
    with provider.context.factory() as db:
        found = refresh_tokens.presented(db, token)
    assert found is not None
    return found.grant_id


def test_the_loop_reads_a_token_as_the_synchronous_path_does(pg_provider: Provider) -> None:
    """The statement compiled for psycopg (its types' bind and result processors) gives the same row."""
    first, _ = first_token(pg_provider)
    with pg_provider.context.factory() as db:
        expected = refresh_tokens.presented(db, first.value)

    async def on_loop() -> refresh_tokens.PresentedRefreshToken | None:
        pg = LoopPostgres(pg_provider.settings.database_url)
        try:
            async with pg.connection() as held:
                return await refresh_tokens.presented_on_loop(held, pg, first.value)
        finally:
            await pg.close()

    found = asyncio.run(on_loop())
    assert found is not None and expected is not None
    assert found.expires_at.tzinfo is not None and found.expires_at == expected.expires_at
    assert {**vars(found), "user": None} == {**vars(expected), "user": None}
    assert found.user is not None and expected.user is not None and found.user.email == expected.user.email


def test_a_rotation_on_the_loop_is_the_same_one_statement(pg_provider: Provider) -> None:
    first, _ = first_token(pg_provider)
    winner, loser = successor_of(first), successor_of(first)

    async def rotate_twice() -> tuple[bool, bool]:
        pg = LoopPostgres(pg_provider.settings.database_url)
        try:
            async with pg.connection() as held:
                won = await refresh_tokens.rotate_on_loop(held, pg, first.row["token_hash"], winner, utcnow())
                lost = await refresh_tokens.rotate_on_loop(held, pg, first.row["token_hash"], loser, utcnow())
                return won, lost
        finally:
            await pg.close()

    assert asyncio.run(rotate_twice()) == (True, False)
    assert family(pg_provider, first.row["grant_id"]) == {first.row["token_hash"]: True,
                                                          winner.row["token_hash"]: False}


def test_no_server_means_unavailable_at_once(tmp_path: Path) -> None:
    async def attempt() -> None:
        pg = LoopPostgres(f"postgresql+psycopg://canary@127.0.0.1:1/{secrets.token_hex(4)}")
        async with pg.connection():
            raise AssertionError("connected to nothing")

    started = time.monotonic()
    with pytest.raises(Unavailable):
        asyncio.run(attempt())
    assert time.monotonic() - started < 5


def test_loop_connections_wait_for_one_another_beyond_the_pool_size(pg_provider: Provider) -> None:
    """With one connection, a second refresh waits for the first to hand it back."""
    order: list[str] = []

    async def run() -> None:
        pg = LoopPostgres(pg_provider.settings.database_url, size=1)
        released = asyncio.Event()

        async def first() -> None:
            async with pg.connection():
                order.append("first")
                await released.wait()
            order.append("first done")

        async def second() -> None:
            async with pg.connection():
                order.append("second")

        try:
            tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
            await asyncio.sleep(0.2)
            assert order == ["first"]
            released.set()
            await asyncio.gather(*tasks)
        finally:
            await pg.close()

    asyncio.run(run())
    assert order == ["first", "first done", "second"]
