"""SQLite writers of one process queue on a lock instead of SQLite's sleeping busy handler."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from idp.db import make_engine


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    yield engine
    engine.dispose()


def gate_of(engine: Engine) -> threading.Lock:
    with engine.connect() as conn:
        gate: threading.Lock = conn.connection.dbapi_connection.gate  # type: ignore[union-attr]
    return gate


def test_reads_do_not_take_the_gate_and_a_write_holds_it_until_commit(engine: Engine) -> None:
    gate = gate_of(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar()
        assert not gate.locked()
        conn.execute(text("INSERT INTO t (who) VALUES ('a')"))
        assert gate.locked()
        conn.commit()
        assert not gate.locked()


def test_a_second_writer_waits_for_the_first_and_goes_on_at_its_commit(engine: Engine) -> None:
    first_wrote = threading.Event()
    order: list[str] = []

    def first() -> None:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('first')"))
            first_wrote.set()
            time.sleep(0.3)
            order.append("first commits")
            conn.commit()

    def second() -> None:
        first_wrote.wait(5)
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('second')"))
            order.append("second wrote")
            conn.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["first commits", "second wrote"]


def test_rollback_and_failed_statements_release_the_gate(engine: Engine) -> None:
    gate = gate_of(engine)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t (id, who) VALUES (1, 'a')"))
        conn.rollback()
    assert not gate.locked()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (id, who) VALUES (1, 'a')"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t (id, who) VALUES (1, 'duplicate')"))
    assert not gate.locked()


def test_many_concurrent_writers_all_land(engine: Engine) -> None:
    def writer(n: int) -> None:
        for i in range(25):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES (:who)"), {"who": f"{n}-{i}"})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(DISTINCT who) FROM t")).scalar() == 300
    assert not gate_of(engine).locked()
