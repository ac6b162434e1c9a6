"""The states computed in ClickHouse (`analytics.queries.scoring`) are `assess`'s own: thousands of day sets of
every kind of rhythm, under several models and on days of every weekday, on both engines."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from analytics.clickhouse import ClickHouse
from analytics.queries import ChurnModel, assess, read_scores, scoring
from analytics.queries.scoring import CODES, code_expression
from analytics.queries.sql import day_number, packed_numbers, unpack_numbers
from tests.analytics_queries.conftest import Loaded

MODELS = [
    ChurnModel(),
    ChurnModel(history_days=28, min_history_days=0, recent_days=7, slowing_min_days=1, min_quiet_days=1,
               max_quiet_days=3650, inactive_days=3650),
    ChurnModel(history_days=64, weekday_share=0.5, gap_quantile=1.0, quiet_factor=1.0, rare_silence=0.4,
               slowing_ratio=0.99, min_active_days=3),
    ChurnModel(history_days=65, gap_quantile=0.5, quiet_factor=10.0, rare_silence=1e-9, min_quiet_days=2,
               max_quiet_days=30, recent_days=21, slowing_min_days=10, inactive_days=30),
    ChurnModel(history_days=97, weekday_share=0.7, gap_quantile=0.75, quiet_factor=2.7, rare_silence=0.01,
               min_quiet_days=3, max_quiet_days=12, slowing_ratio=0.3, inactive_days=9),
]


def day_sets(rng: random.Random, start: date, today: date, count: int) -> list[tuple[int, date]]:
    """(bits from `start`, last active day) of `count` accounts of mixed habits, with some stopping early."""
    length = (today - start).days + 1
    found = []
    for _ in range(count):
        habit = rng.choice(["daily", "weekdays", "weekly", "monthly", "random", "sparse", "burst"])
        rate = {"daily": 0.95, "weekdays": 0.9, "weekly": 0.15, "monthly": 0.035, "random": rng.random(),
                "sparse": 0.02, "burst": 0.6}[habit]
        begin = rng.randrange(-30, length)
        stop = rng.choice([length, length, rng.randrange(0, length + 1)])
        if habit == "burst":
            begin = rng.randrange(0, length)
            stop = min(length, begin + rng.randrange(1, 20))
        bits = 0
        for position in range(max(0, begin), stop):
            day = start + timedelta(days=position)
            if habit == "weekdays" and day.weekday() >= 5 and rng.random() > 0.05:
                continue
            if habit in ("weekly", "monthly") and rng.random() < 0.8:
                period = 7 if habit == "weekly" else 30
                if (position - begin) % period == 0:
                    bits |= 1 << position
                continue
            if rng.random() < rate:
                bits |= 1 << position
        last = start + timedelta(days=bits.bit_length() - 1) if bits else start - timedelta(days=rng.randrange(1, 400))
        found.append((bits, last))
    return found


def codes(engine: ClickHouse, model: ChurnModel, start: date, today: date, sets: list[tuple[int, date]]) -> list[int]:
    rows = ", ".join(f"({bits & (2**64 - 1)}, {bits >> 64}, {day_number(last)}, {index})"
                     for index, (bits, last) in enumerate(sets))
    statement = (
        f"SELECT {packed_numbers('groupArray(i)')}, {packed_numbers('groupArray(code)')}"
        f" FROM (SELECT i, {code_expression(model, start, today)} FROM (SELECT toUInt64(tupleElement(t, 1)) AS w0,"
        " toUInt64(tupleElement(t, 2)) AS w1, toUInt16(tupleElement(t, 3)) AS last, tupleElement(t, 4) AS i"
        f" FROM (SELECT arrayJoin([{rows}]) AS t)))"
    )
    (indexes, found), = engine.execute(statement)
    by_index = dict(zip(unpack_numbers(indexes), unpack_numbers(found), strict=True))
    return [by_index[index] for index in range(len(sets))]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"history{m.history_days}")
def test_codes_are_what_assess_decides(engine: ClickHouse, model: ChurnModel) -> None:
    rng = random.Random(model.history_days)
    seen: set[int] = set()
    for offset in range(7):  # a today of every weekday
        today = date(2024, 6, 3) + timedelta(days=offset + 7 * rng.randrange(0, 50))
        start = model.start(today)
        sets = day_sets(rng, start, today, 400)
        for (bits, last), code in zip(sets, codes(engine, model, start, today, sets), strict=True):
            verdict = assess(bits, start, today, last, model)
            assert CODES[code] == (verdict.state, verdict.rhythm is not None, verdict.quiet), (bin(bits), last, today)
            seen.add(code)
    assert seen >= {0, 2, 3, 4}  # the day sets reach the states under every model
    if model == ChurnModel():
        assert seen == set(CODES)


def test_scores_of_members_read_in_chunks_are_those_of_everyone(loaded: Loaded, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    sim = loaded.sim
    model = ChurnModel()
    everyone = read_scores(loaded.engine, None, sim.today, model, sim.today - timedelta(days=400))
    members = sorted(everyone)[::3]
    monkeypatch.setattr(scoring, "CHUNK_BYTES", 300)  # about ten accounts a statement
    chunked = read_scores(loaded.engine, members, sim.today, model, sim.today - timedelta(days=400))
    assert sorted(chunked.codes()) == sorted((sub, code) for sub, code in everyone.codes() if sub in set(members))
    assert all(chunked[sub] == everyone[sub] and chunked.last(sub) == everyone.last(sub) for sub in members)
    at_risk = read_scores(loaded.engine, None, sim.today, model, sim.today - timedelta(days=14), codes=(3, 4))
    assert {code for _, code in at_risk.codes()} <= {"3", "4"}
    assert sorted(at_risk) == sorted(sub for sub, code in everyone.codes()
                                     if code in "34" and everyone.last(sub) > sim.today - timedelta(days=14))
