"""The in-memory key store: made-up kids do not turn into a database query each; each algorithm's keys retire
by their own successors."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from idp.db import transaction
from idp.oauth.keys import KeyStore, rotate


def test_unknown_kids_reload_the_keys_at_most_once_per_interval(factory: sessionmaker[Session]) -> None:
    engine = factory.kw["bind"]
    loads: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: loads.append(statement) if "signing_keys" in statement else None)
    keys = KeyStore(factory, max_token_ttl=900)
    known = keys.signing_key("RS256").kid
    assert len(loads) == 1
    for n in range(200):
        assert keys.find(f"made-up-{n}") is None
    assert keys.find(known) is not None
    assert len(loads) <= 2  # at most one forced reload within the interval
    before = len(loads)
    keys.reload()  # an explicit reload (after a rotation in this process) always reads
    assert len(loads) == before + 1 and keys.find(known) is not None


def test_a_key_retires_only_when_a_key_of_its_own_algorithm_takes_over(factory: sessionmaker[Session]) -> None:
    """Keys of two algorithms sign side by side (access tokens and ID tokens may differ): a new ES256 key does not
    retire the RS256 key, which stays in force and published; a new RS256 key retires its predecessor, which leaves
    the JWKS once what it signed has expired."""
    keys = KeyStore(factory, max_token_ttl=60)
    first_rs256 = keys.signing_key("RS256")
    start = first_rs256.activates_at + timedelta(seconds=10)
    with transaction(factory) as db:
        es256 = rotate(db, "ES256", publish_delay=0, now=start)
    keys.reload()
    much_later = start + timedelta(hours=1)
    assert {first_rs256.kid, es256.kid} <= {k.kid for k in keys.published(much_later)}
    assert keys.signing_key("RS256", now=much_later).kid == first_rs256.kid
    assert keys.signing_key("ES256", now=much_later).kid == es256.kid

    with transaction(factory) as db:
        second_rs256 = rotate(db, "RS256", publish_delay=5, now=much_later)
    keys.reload()
    assert keys.signing_key("RS256", now=much_later).kid == first_rs256.kid  # published before it signs
    took_over = much_later + timedelta(seconds=5)
    assert keys.signing_key("RS256", now=took_over).kid == second_rs256.kid
    assert first_rs256.kid in {k.kid for k in keys.published(took_over + timedelta(seconds=59))}
    gone = {k.kid for k in keys.published(took_over + timedelta(seconds=61))}
    assert first_rs256.kid not in gone and {second_rs256.kid, es256.kid} <= gone
