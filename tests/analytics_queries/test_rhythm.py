"""The rhythm and the states: the model on hand-made day sets, and the window read from ClickHouse against the
simulation's own days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from analytics.queries import ChurnModel, QueryError, assess, at_risk_accounts, read_windows, rhythm_of
from idp.settings import Settings, SettingsError
from tests.analytics_queries.conftest import Loaded
from tests.analytics_queries.reference import active_days

TODAY = date(2024, 6, 5)  # a Wednesday
MODEL = ChurnModel()
START = MODEL.start(TODAY)


def bits_of(days: list[date]) -> int:
    return sum(1 << (day - START).days for day in set(days) if START <= day <= TODAY)


def every(step: int, until: date, since: date = START) -> list[date]:
    days, day = [], since
    while day <= until:
        days.append(day)
        day += timedelta(days=step)
    return days


def weekdays(until: date) -> list[date]:
    return [day for day in every(1, until) if day.weekday() < 5]


def test_a_daily_user_silent_for_five_days_is_going_quiet() -> None:
    days = every(1, TODAY - timedelta(days=5))
    found = assess(bits_of(days), START, TODAY, days[-1], MODEL)
    assert found.state == "going_quiet" and found.quiet and found.score >= 1
    assert found.rhythm is not None and found.rhythm.usual_gap == 1 and found.rhythm.days_per_week == 7
    assert found.explanation == "usually active 7 days a week; silent for 5 days, beyond its usual gaps of up to 1 day"
    yesterday = every(1, TODAY - timedelta(days=4))
    assert assess(bits_of(yesterday), START, TODAY, yesterday[-1], MODEL).state == "active"


def test_a_monthly_user_silent_for_three_weeks_is_not_going_quiet() -> None:
    days = every(30, TODAY - timedelta(days=21), since=TODAY - timedelta(days=81))
    found = assess(bits_of(days), START, TODAY, days[-1], MODEL)
    assert found.state == "inactive" and not found.quiet  # the fixed threshold still applies
    assert found.rhythm is not None and found.rhythm.usual_gap == 30
    assert found.explanation.startswith("usually active every 30 days; silent for 21 days")
    early = assess(bits_of(days), START, TODAY - timedelta(days=8), days[-1], MODEL)
    assert early.state == "active" and early.score < 0.5


def test_a_weekday_user_is_not_quiet_over_a_weekend_but_is_after_five_weekdays() -> None:
    friday = date(2024, 5, 31)
    days = weekdays(friday)
    monday = assess(bits_of(days), START, date(2024, 6, 3), friday, MODEL)
    assert monday.rhythm is not None and monday.rhythm.weekdays_only and monday.silent_units == 1
    assert monday.state == "active"
    wednesday = assess(bits_of(days), START, TODAY, friday, MODEL)
    assert wednesday.state == "active" and wednesday.silent_units == 3 and wednesday.silent_days == 5
    next_friday = assess(bits_of(days), START, date(2024, 6, 7), friday, MODEL)
    assert next_friday.state == "going_quiet" and next_friday.silent_units == 5
    assert "usually active 5 weekdays a week; silent for 7 days (5 weekdays)" in next_friday.explanation


def test_a_user_at_a_quarter_of_its_usual_rate_is_slowing() -> None:
    recent = TODAY - timedelta(days=MODEL.recent_days - 1)
    days = [*every(1, recent - timedelta(days=1)), recent + timedelta(days=3), TODAY - timedelta(days=1)]
    found = assess(bits_of(days), START, TODAY, days[-1], MODEL)
    assert found.state == "slowing" and 0.5 <= found.score < 1
    assert found.explanation.endswith("active 2 of the last 14 days against 14 usually")


def test_too_little_history_is_no_rhythm_and_the_fixed_threshold_applies() -> None:
    days = every(1, TODAY - timedelta(days=5), since=TODAY - timedelta(days=10))  # 6 days, begun 10 days ago
    assert rhythm_of(bits_of(days), START, TODAY, MODEL) is None
    found = assess(bits_of(days), START, TODAY, days[-1], MODEL)
    assert found.state == "active" and found.rhythm is None and not found.quiet
    assert found.explanation == "no rhythm yet (6 active days in the last 120 days); silent for 5 days"
    later = assess(bits_of(days), START, TODAY + timedelta(days=9), days[-1], MODEL)
    assert later.state == "inactive" and later.score == 1


def test_the_settings_defaults_are_the_models() -> None:
    assert ChurnModel(**Settings().churn_parameters()) == ChurnModel()  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="CANARY_CHURN_QUIET_FACTOR"):
        Settings.from_env({"CANARY_CHURN_QUIET_FACTOR": "0.2"})


@pytest.mark.parametrize(("field", "value"), [("history_days", 200), ("quiet_factor", 0.5), ("slowing_ratio", 1.0),
                                              ("min_quiet_days", 0), ("inactive_days", True)])
def test_parameters_out_of_bounds_are_refused(field: str, value: object) -> None:
    with pytest.raises(QueryError) as error:
        ChurnModel(**{field: value})  # type: ignore[arg-type]
    assert error.value.field == field


def test_windows_hold_each_accounts_days(loaded: Loaded) -> None:
    sim = loaded.sim
    today = sim.today - timedelta(days=3)  # the days after today are left out
    model = ChurnModel(history_days=120)
    start = model.start(today)
    windows = read_windows(loaded.engine, None, start, today, today - timedelta(days=400))
    expected = {sub: {d for d in days if d <= today} for sub, days in active_days(sim).items()}
    expected = {sub: days for sub, days in expected.items() if days}
    assert set(windows.bits) == set(expected)
    for sub, days in expected.items():
        assert windows.last[sub] == max(days)
        assert windows.bits[sub] == sum(1 << (d - start).days for d in days if d >= start), sub
    recent = read_windows(loaded.engine, sorted(expected)[:50], start, today, today - timedelta(days=14))
    assert set(recent.bits) == {sub for sub in sorted(expected)[:50] if max(expected[sub]) > today - timedelta(days=14)}


def test_at_risk_lists_going_quiet_and_slowing_by_score(loaded: Loaded) -> None:
    sim = loaded.sim
    found = at_risk_accounts(loaded.engine, sim.directory, sim.now, ChurnModel())
    items = list(found)
    assert items and len(items) == len(found)
    assert {item.state for item in items} <= {"going_quiet", "slowing"}
    assert [item.score for item in items] == sorted((item.score for item in items), reverse=True)
    days = active_days(sim)
    start = MODEL.start(sim.today)
    for item in items:
        bits = sum(1 << (d - start).days for d in days[item.sub] if start <= d <= sim.today)
        assert item.assessment == assess(bits, start, sim.today, max(days[item.sub]), MODEL)
        assert item.last_seen == max(days[item.sub])
    org = at_risk_accounts(loaded.engine, sim.directory, sim.now, organization="org-acme")
    members = {ref.sub for ref in sim.directory.accounts("org-acme")}
    assert set(org.subs()) == {sub for sub in found.subs() if sub in members}
