"""Key rotation: published before it signs; the old key stays until its tokens have expired."""

from __future__ import annotations

from datetime import timedelta

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.db import transaction, utcnow
from idp.oauth.keys import KeyStore, rotate
from tests.functional.conftest import Provider


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
    older = [k.kid for k in store._current() if k.kid != new.kid]
    assert new.kid in published_now and set(older) & published_now
    later = {k.kid for k in store.published(now + timedelta(seconds=61))}
    assert new.kid in later and not set(older) & later
    assert store.signing_key(now=now + timedelta(seconds=1)).kid == new.kid
