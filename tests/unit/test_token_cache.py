"""Verified access tokens remembered for a few seconds: never past expiry, never past a revocation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.service import create_user
from idp.db import transaction, utcnow
from idp.oauth.clients import create_client
from idp.oauth.keys import KeyStore
from idp.oauth.models import Grant
from idp.oauth.token_cache import VerifiedTokens
from idp.oauth.tokens import InvalidToken, TokenPolicy, TokenService
from tests.unit.conftest import Clock


def service(factory: sessionmaker[Session], cache: VerifiedTokens) -> TokenService:
    return TokenService(KeyStore(factory, max_token_ttl=900),
                        TokenPolicy("http://localhost:8000", 900, 3600, 86400), cache)


def user_token(factory: sessionmaker[Session], tokens: TokenService) -> tuple[str, str, str]:
    with transaction(factory) as db:
        client, _ = create_client(db, name="rp", redirect_uris=["http://localhost/cb"])
        user = create_user(db, email=f"u{time.monotonic_ns()}@example.com", password="a long enough password")
        grant = Grant(id=f"g{time.monotonic_ns()}", client_id=client.client_id, user_id=user.id, created_at=utcnow())
        db.add(grant)
        token, _ = tokens.access_token(client=client, subject=user.id, scope="events:write", grant_id=grant.id)
        return token, grant.id, user.id


def queries(factory: sessionmaker[Session]) -> list[str]:
    seen: list[str] = []
    event.listen(factory.kw["bind"], "before_cursor_execute",
                 lambda conn, cursor, statement, *a: seen.append(statement))
    return seen


def verify(factory: sessionmaker[Session], tokens: TokenService, token: str) -> dict[str, Any]:
    with factory() as db:
        return tokens.verify_access_token(db, token, cached=True)


def test_a_repeated_token_is_checked_once_per_ttl(factory: sessionmaker[Session]) -> None:
    clock = Clock()
    tokens = service(factory, VerifiedTokens(ttl=5, clock=clock))
    token, _, user_id = user_token(factory, tokens)
    seen = queries(factory)
    assert verify(factory, tokens, token)["sub"] == user_id
    checked = len(seen)
    assert checked >= 3  # revoked jti, grant, user
    for _ in range(20):
        assert verify(factory, tokens, token)["sub"] == user_id
    assert len(seen) == checked
    clock.now += 5.1
    verify(factory, tokens, token)
    assert len(seen) == 2 * checked


def test_revoking_in_this_process_is_immediate(factory: sessionmaker[Session]) -> None:
    tokens = service(factory, VerifiedTokens(ttl=300))
    token, grant_id, _ = user_token(factory, tokens)
    verify(factory, tokens, token)
    with transaction(factory) as db:
        tokens.revoke_grant(db, grant_id)
    with pytest.raises(InvalidToken):
        verify(factory, tokens, token)

    other, _, other_user = user_token(factory, tokens)
    verify(factory, tokens, other)
    with transaction(factory) as db:
        tokens.revoke_user_grants(db, other_user)
    with pytest.raises(InvalidToken):
        verify(factory, tokens, other)

    third, _, _ = user_token(factory, tokens)
    claims = verify(factory, tokens, third)
    with transaction(factory) as db:
        tokens.revoke_access_token(db, claims)
    with pytest.raises(InvalidToken):
        verify(factory, tokens, third)


def test_never_beyond_the_tokens_expiry_and_failures_are_not_remembered(factory: sessionmaker[Session]) -> None:
    wall = Clock()
    wall.now = time.time()
    cache = VerifiedTokens(ttl=3600, wall=wall)
    tokens = service(factory, cache)
    token, _, _ = user_token(factory, tokens)
    claims = verify(factory, tokens, token)
    wall.now = claims["exp"] + 1
    assert cache.get(token) is None
    with pytest.raises(InvalidToken):
        verify(factory, tokens, "not-a-token")
    assert len(cache) == 0


def test_a_check_racing_with_a_revocation_is_not_remembered() -> None:
    cache = VerifiedTokens(ttl=60)
    generation = cache.generation()
    cache.clear()  # a revocation committed while the check ran
    cache.put("t", {"exp": int(time.time()) + 60}, generation)
    assert cache.get("t") is None
    cache.put("t", {"exp": int(time.time()) + 60}, cache.generation())
    assert cache.get("t") is not None


def test_uncached_verification_always_checks(factory: sessionmaker[Session]) -> None:
    tokens = service(factory, VerifiedTokens(ttl=300))
    token, _, _ = user_token(factory, tokens)
    seen = queries(factory)
    with factory() as db:
        tokens.verify_access_token(db, token)
        tokens.verify_access_token(db, token)
    assert sum("revoked_access_tokens" in s for s in seen) == 2
