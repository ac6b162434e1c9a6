"""The in-memory key store: made-up kids do not turn into a database query each."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from idp.oauth.keys import KeyStore


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
