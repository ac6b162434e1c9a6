"""The in-memory key store: made-up kids do not turn into a database query each."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from idp.db import make_engine, make_session_factory, transaction
from idp.migrate import migrate_sql
from idp.oauth.keys import KeyStore, ensure_key
from idp.settings import Settings


def test_unknown_kids_reload_the_keys_at_most_once_per_interval(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    migrate_sql(settings)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    with transaction(factory) as db:
        ensure_key(db, "RS256")
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
    engine.dispose()
