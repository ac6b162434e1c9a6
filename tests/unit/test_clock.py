"""Tokens and signing keys decide by the clock they are given, not the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import SYSTEM_CLOCK
from idp.db import transaction
from idp.oauth.keys import KeyStore, rotate
from idp.oauth.models import Client
from idp.oauth.tokens import InvalidToken, TokenPolicy, TokenService
from tests.support.clock import MovableClock


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_access_tokens_are_issued_and_expire_by_the_services_clock(factory: sessionmaker[Session]) -> None:
    clock = FixedClock(datetime.now(UTC) + timedelta(days=365))
    keys = KeyStore(factory, max_token_ttl=600, clock=clock)
    tokens = TokenService(keys, TokenPolicy("https://issuer.example", 600, 600, 3600), clock)
    token, ttl = tokens.access_token(client=Client(client_id="rs", access_token_format="jwt"), subject="rs",
                                     scope="events:write")
    claims = tokens.decode(token)
    assert claims["iat"] == int(clock.at.timestamp()) and claims["exp"] == claims["iat"] + ttl == claims["iat"] + 600
    clock.at += timedelta(seconds=600)
    with pytest.raises(InvalidToken):
        tokens.decode(token)


def test_a_rotated_key_signs_once_the_clock_reaches_its_activation(factory: sessionmaker[Session]) -> None:
    start = datetime.now(UTC) + timedelta(days=1)  # after every key already stored
    clock = FixedClock(start)
    keys = KeyStore(factory, max_token_ttl=600, clock=clock)
    old = keys.signing_key("RS256").kid
    with transaction(factory) as db:
        new = rotate(db, "RS256", publish_delay=60, now=start).kid
    keys.reload()
    assert keys.signing_key("RS256").kid == old and new in {k.kid for k in keys.published()}
    clock.at = start + timedelta(seconds=60)
    assert keys.signing_key("RS256").kid == new


def test_the_movable_clock_follows_the_wall_clock_and_only_moves_forward() -> None:
    clock = MovableClock()
    before = SYSTEM_CLOCK.now()
    assert before <= clock.now() <= SYSTEM_CLOCK.now()
    clock.advance(3600)
    assert clock.now() - SYSTEM_CLOCK.now() > timedelta(seconds=3599)
    with pytest.raises(ValueError):
        clock.advance(-1)
