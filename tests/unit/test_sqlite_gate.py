"""SQLite writers of one process queue on a lock instead of SQLite's sleeping busy handler."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.db import WouldWait, make_engine
from idp.loop_sessions import PAUSE_SECONDS, LoopSessions, loop_sessions


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


# --- connections for the event loop's thread: they never wait --------------------------------------------------
def test_a_non_waiting_connection_refuses_a_gate_held_by_another_thread_and_writes_nothing(engine: Engine,
                                                                                           tmp_path: Path) -> None:
    on_loop = make_engine(f"sqlite:///{tmp_path / 'gate.db'}", wait=False)
    try:
        holder_wrote, release = threading.Event(), threading.Event()

        def holder() -> None:
            with engine.connect() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES ('holder')"))
                holder_wrote.set()
                release.wait(10)
                conn.commit()

        thread = threading.Thread(target=holder)
        thread.start()
        assert holder_wrote.wait(5)
        started = time.monotonic()
        with pytest.raises(WouldWait), on_loop.connect() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('loop')"))
        assert time.monotonic() - started < 0.5
        release.set()
        thread.join(10)
        with on_loop.begin() as conn:  # the gate free again: the same connection writes at once
            conn.execute(text("INSERT INTO t (who) VALUES ('loop, later')"))
        with engine.connect() as conn:
            assert sorted(conn.execute(text("SELECT who FROM t")).scalars()) == ["holder", "loop, later"]
        assert not gate_of(engine).locked()
    finally:
        on_loop.dispose()


def test_another_process_holding_the_write_lock_is_would_wait_at_once_on_the_loop(tmp_path: Path) -> None:
    """Another process's write lock (here: a plain sqlite3 connection, outside the process's gate) is SQLite's
    "database is locked" at once for loop sessions (busy timeout 0), which LoopSessions.run turns into WouldWait."""
    path = tmp_path / "other.db"
    now = [100.0]
    sessions = LoopSessions(f"sqlite:///{path}", clock=lambda: now[0])
    assert sessions.available()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (who) VALUES ('other process')")

        def write(factory: sessionmaker[Session]) -> None:
            with factory() as db:
                db.execute(text("INSERT INTO t (who) VALUES ('loop')"))
                db.commit()

        started = time.monotonic()
        with pytest.raises(WouldWait):
            asyncio.run(sessions.run(write))
        assert time.monotonic() - started < 0.5
        other.execute("COMMIT")
        assert not sessions.available()  # another process writes here: not worth trying for a while
        now[0] += PAUSE_SECONDS
        assert sessions.available()
        asyncio.run(sessions.run(write))
        assert sorted(r[0] for r in other.execute("SELECT who FROM t")) == ["loop", "other process"]
    finally:
        other.close()
        asyncio.run(sessions.close())


def test_loop_sessions_are_not_offered_while_another_thread_holds_the_gate(engine: Engine, tmp_path: Path) -> None:
    sessions = loop_sessions(f"sqlite:///{tmp_path / 'gate.db'}")
    assert sessions is not None
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('holder')"))
            assert not sessions.available()
            conn.commit()
        assert sessions.available()
    finally:
        asyncio.run(sessions.close())


def test_loop_sessions_only_for_a_sqlite_file() -> None:
    assert loop_sessions("sqlite://") is None
    assert loop_sessions("sqlite:///:memory:") is None
    assert loop_sessions("postgresql+psycopg://postgres@127.0.0.1:5432/none") is None
