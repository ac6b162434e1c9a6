"""Key rotation: published before it signs; the old key stays until its tokens have expired."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.db import transaction, utcnow
from idp.oauth.keys import KeyStore, rotate
from tests.functional.conftest import Provider, start_provider
from tests.support.postgres import own_accounts_database
from tests.support.tokens import decode, tokens_for


def _cc_token(provider: Provider) -> str:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write")
    return str(httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret or "")).json()["access_token"])


def test_rotation_publishes_first_then_signs_and_keeps_old_key(clocked: Provider) -> None:
    provider = clocked
    before = _cc_token(provider)
    old_kid = jwt.decode(before, KeySet.import_key_set(httpx.get(f"{provider.url}/jwks").json())).header["kid"]
    with transaction(provider.context.factory) as db:
        new = rotate(db, "RS256", publish_delay=2, now=provider.clock.now())
    provider.context.keys.reload()
    kids = {k["kid"] for k in httpx.get(f"{provider.url}/jwks").json()["keys"]}
    assert {old_kid, new.kid} <= kids
    still_old = _cc_token(provider)
    jwks = KeySet.import_key_set(httpx.get(f"{provider.url}/jwks").json())
    assert jwt.decode(still_old, jwks).header["kid"] == old_kid  # not signing yet
    provider.clock.advance(2)
    after = _cc_token(provider)
    jwks = KeySet.import_key_set(httpx.get(f"{provider.url}/jwks").json())
    assert jwt.decode(after, jwks).header["kid"] == new.kid
    assert jwt.decode(before, jwks).header["kid"] == old_kid  # old tokens still verify


def test_old_key_is_unpublished_after_max_token_lifetime(provider: Provider) -> None:
    store = KeyStore(provider.context.factory, max_token_ttl=60)
    now = utcnow() + timedelta(seconds=10)  # after every key rotated in so far has taken over
    with transaction(provider.context.factory) as db:
        new = rotate(db, "RS256", publish_delay=0, now=now)
    store.reload()
    published_now = {k.kid for k in store.published(now)}
    older = [k.kid for k in store._current() if k.kid != new.kid and k.alg == "RS256"]  # its predecessors
    assert new.kid in published_now and set(older) & published_now
    later = {k.kid for k in store.published(now + timedelta(seconds=61))}
    assert new.kid in later and not set(older) & later
    assert store.signing_key(now=now + timedelta(seconds=1)).kid == new.kid


def _published_kids(provider: Provider) -> set[str]:
    return {k["kid"] for k in httpx.get(f"{provider.url}/jwks").json()["keys"]}


def test_keys_of_two_algorithms_both_stay_published_while_they_sign(database_url: str, tmp_path: Path) -> None:
    """CANARY_SIGNING_ALG=ES256: ES256 signs the access tokens, RS256 the ID tokens; neither key is a successor
    of the other, so both are published for as long as they sign."""
    with own_accounts_database(database_url, tmp_path, "canary_keys") as url:
        provider, server = start_provider(tmp_path, url, signing_alg="ES256")
        try:
            with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as http:
                provider.clock.advance(provider.settings.id_token_ttl + provider.settings.access_token_ttl + 1)
                _, _, body = tokens_for(provider, http)
            access, id_token = decode(provider, body["access_token"]), decode(provider, body["id_token"])
            assert access.header["alg"] == "ES256" and id_token.header["alg"] == "RS256"
            assert {access.header["kid"], id_token.header["kid"]} <= _published_kids(provider)
        finally:
            server.stop()


def test_rotating_one_algorithm_does_not_retire_the_others_key(database_url: str, tmp_path: Path) -> None:
    """On an RS256 deployment a first ES256 key (for clients that ask for ES256 ID tokens) leaves the RS256 key
    that signs everything else in force and published."""
    with own_accounts_database(database_url, tmp_path, "canary_keys") as url:
        provider, server = start_provider(tmp_path, url)
        try:
            rs256 = provider.context.keys.signing_key("RS256").kid
            with transaction(provider.context.factory) as db:
                es256 = rotate(db, "ES256", publish_delay=0, now=provider.clock.now()).kid
            provider.context.keys.reload()
            provider.clock.advance(provider.settings.id_token_ttl + provider.settings.access_token_ttl + 1)
            token = _cc_token(provider)
            assert jwt.decode(token, KeySet.import_key_set(httpx.get(f"{provider.url}/jwks").json())
                              ).header["kid"] == rs256
            assert {rs256, es256} <= _published_kids(provider)
        finally:
            server.stop()

