"""PostgreSQL pooled connections: pinged before use only after sitting idle (``idp.db.ping_when_idle``), and a dead
one found by that ping is replaced without the caller seeing an error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from idp.db import ping_when_idle
from tests.support.postgres import POSTGRES_ADMIN


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def pooled(postgres_database: str) -> Iterator[tuple[Engine, Clock]]:
    clock = Clock()
    engine = create_engine(postgres_database, pool_size=1, max_overflow=0)
    ping_when_idle(engine, 0.5, clock)
    yield engine, clock
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(pid: int) -> None:
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_a_connection_idle_past_the_window_is_pinged_and_replaced_when_dead(pooled: tuple[Engine, Clock]) -> None:
    engine, clock = pooled
    first = backend_pid(engine)
    terminate(first)
    clock.now += 5  # idle in the pool for 5 s: pinged at checkout, found dead, replaced
    assert backend_pid(engine) != first


def test_a_connection_used_within_the_window_is_handed_out_without_a_ping(pooled: tuple[Engine, Clock]) -> None:
    engine, clock = pooled
    first = backend_pid(engine)
    clock.now += 0.1
    assert backend_pid(engine) == first  # the same connection, reused
    terminate(first)
    clock.now += 0.1  # no ping within the window: the dead connection is handed out and its statement fails
    with pytest.raises(OperationalError):
        backend_pid(engine)
    clock.now += 0.1
    assert backend_pid(engine) != first  # the failure invalidated it: the next checkout connects anew
