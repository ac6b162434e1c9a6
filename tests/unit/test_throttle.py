"""The sliding-window arithmetic of ``idp.accounts.throttle``, on a SQLite file, with a clock the test moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.models import ThrottleCount
from idp.accounts.throttle import Limit, Limits, Throttle, Throttled, retry_after

LIMIT = Limit("signin-address", 4, 100)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'throttle.db'}")
    ThrottleCount.__table__.create(engine)
    return sessionmaker(engine)


def test_the_limit_slides_with_the_window(sessions: sessionmaker[Session]) -> None:
    clock = Clock(1000.0)  # window [1000, 1100)
    throttle = Throttle(Limits(signin_address=LIMIT), clock)
    with sessions() as db:
        for _ in range(4):
            throttle.reserve(db, [(LIMIT, "a")])
        with pytest.raises(Throttled) as refused:
            throttle.reserve(db, [(LIMIT, "a")])
        assert refused.value.limit == "signin-address" and refused.value.retry_after == 100  # next window
        throttle.reserve(db, [(LIMIT, "b")])  # another key is not held up
        clock.now = 1125.0  # a quarter into the next window: the 4 old attempts weigh 3
        throttle.reserve(db, [(LIMIT, "a")])
        with pytest.raises(Throttled) as again:
            throttle.reserve(db, [(LIMIT, "a")])
        # 4 * (1 - t/100) + 1 < 4 once t > 25 s into the window: right now it is exactly 25.
        assert again.value.retry_after == 1
        clock.now = 1126.0
        throttle.reserve(db, [(LIMIT, "a")])


def test_released_attempts_do_not_count(sessions: sessionmaker[Session]) -> None:
    throttle = Throttle(Limits(signin_address=LIMIT), Clock(5000.0))
    with sessions() as db:
        for _ in range(10):
            reservation = throttle.reserve(db, [(LIMIT, "a")])
            throttle.release(db, reservation)
            db.commit()
        assert db.get(ThrottleCount, ("signin-address:a", 5000)).count == 0  # type: ignore[union-attr]


def test_a_refused_reservation_takes_nothing_from_the_other_limits(sessions: sessionmaker[Session]) -> None:
    account = Limit("signin-account", 1, 100)
    throttle = Throttle(Limits(signin_address=LIMIT, signin_account=account), Clock(200.0))
    with sessions() as db:
        throttle.reserve(db, [(LIMIT, "a"), (account, "x")])
        with pytest.raises(Throttled):
            throttle.reserve(db, [(LIMIT, "a"), (account, "x")])
        assert db.get(ThrottleCount, ("signin-address:a", 200)).count == 1  # type: ignore[union-attr]


def test_failures_after_the_fact_and_the_processs_memory(sessions: sessionmaker[Session]) -> None:
    client = Limit("client", 2, 100)
    clock = Clock(300.0)
    throttle = Throttle(Limits(client=client), clock)
    with sessions() as db:
        assert throttle.record_failure(db, [(client, "c")]) is None
        assert throttle.refusing([(client, "c")]) is None
        assert throttle.record_failure(db, [(client, "c")]) is None  # the allowance is used up: remembered
        assert throttle.refusing([(client, "c")]) is not None
        over = throttle.record_failure(db, [(client, "c")])
        assert over is not None and over.limit == "client"
        clock.now = 600.0
        assert throttle.refusing([(client, "c")]) is None


def test_a_limit_of_zero_counts_nothing(sessions: sessionmaker[Session]) -> None:
    off = Limit("signin-address", 0, 100)
    throttle = Throttle(Limits(signin_address=off), Clock(0.0))
    with sessions() as db:
        for _ in range(50):
            throttle.reserve(db, [(off, "a")])
        assert db.query(ThrottleCount).count() == 0


def test_retry_after() -> None:
    assert retry_after(previous=0, current=4, elapsed=10, limit=4, window=100) == 90
    assert retry_after(previous=8, current=0, elapsed=0, limit=4, window=100) == 50
    assert retry_after(previous=0, current=8, elapsed=0, limit=4, window=100) == 150  # beyond the limit: longer


def test_sign_ups_and_reset_requests_share_one_allowance_across_nodes(sessions: sessionmaker[Session]) -> None:
    """Five per client address in ten minutes, counted in SQL: two processes (nodes) over one database give no
    more between them than one; sign-ups and reset requests count apart."""
    clock = Clock(6000.0)
    nodes = [Throttle(Limits(), clock), Throttle(Limits(), clock)]
    with sessions() as db:
        for i in range(5):
            nodes[i % 2].reserve(db, nodes[0].limits.signup("203.0.113.7"))
        for node in nodes:
            with pytest.raises(Throttled) as refused:
                node.reserve(db, node.limits.signup("203.0.113.7"))
            assert refused.value.limit == "signup-address" and 0 < refused.value.retry_after <= 600
        nodes[1].reserve(db, nodes[1].limits.reset("203.0.113.7"))
        nodes[0].reserve(db, nodes[0].limits.signup("198.51.100.1"))
        clock.now += 1200  # two windows later
        nodes[0].reserve(db, nodes[0].limits.signup("203.0.113.7"))
