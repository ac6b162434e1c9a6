"""An account's state, risk score and explanation, from its rhythm (`analytics.queries.rhythm`).

States, the first that holds:

- `inactive`: no activity for `inactive_days` days or more — the fixed threshold, rhythm or not, as the
  inactive-accounts list counts it.
- `going_quiet`: the account has a rhythm and its current silence (in its own unit, days or weekdays) has
  reached `quiet_after`, well beyond its usual gaps.
- `slowing`: the account has a rhythm, is expected to be active at least `slowing_min_days` days of the recent
  period at its baseline rate, and its recent rate is at most `slowing_ratio` of that baseline.
- `active`: anything else, including an account with too little history for a rhythm that has not reached the
  fixed threshold.

The score orders accounts by risk: the silence as a share of the silence that counts as going quiet
(`quiet_after`, or `inactive_days` without a rhythm), or for a drop in rate, 0.99 times the share of its usual
rate lost, whichever is higher. A score of 1 or more means silent beyond what is usual for the account.

This is the one scoring function: the at-risk list, an account's activity, the alert detector and the
evaluation in `bench/early_warning.py` all call `assess`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, NamedTuple

from analytics.queries.rhythm import ChurnModel, Rhythm, rhythm_of, silence

State = Literal["active", "slowing", "going_quiet", "inactive"]
STATES: tuple[State, ...] = ("active", "slowing", "going_quiet", "inactive")


class Assessment(NamedTuple):
    state: State
    score: float
    silent_days: int
    """Whole days since the last active day (0: active today)."""
    rhythm: Rhythm | None
    """None: too little history for a rhythm yet."""
    model: ChurnModel
    silent_units: int
    """The silence in the rhythm's unit (weekdays for an account that keeps to weekdays)."""
    history_active_days: int
    """Active days in the history."""

    @property
    def quiet(self) -> bool:
        """Silent beyond its rhythm: what an `account.going_quiet` alert reports (the state `going_quiet`, or
        `inactive` when the silence is beyond its rhythm as well)."""
        return self.rhythm is not None and self.silent_units >= self.rhythm.quiet_after

    @property
    def explanation(self) -> str:
        """One sentence a person can read: "usually active 4 days a week; silent for 6 days, …"."""
        return explain(self)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _usually(rhythm: Rhythm) -> str:
    per_week = rhythm.days_per_week
    if rhythm.weekdays_only and per_week >= 1:
        return f"usually active {_plural(min(5, max(1, round(per_week))), 'weekday')} a week"
    if per_week >= 1:
        return f"usually active {_plural(min(7, round(per_week)), 'day')} a week"
    unit = "weekday" if rhythm.weekdays_only else "day"
    return f"usually active every {_plural(rhythm.usual_gap, unit)}"


def _silent(days: int, quiet: int, weekdays_only: bool) -> str:
    if days == 0:
        return "active today"
    if days == 1:
        return "last active yesterday"
    text = f"silent for {days} days"
    if weekdays_only and quiet != days:
        text += f" ({_plural(quiet, 'weekday')})"
    return text


def explain(a: Assessment) -> str:
    model, rhythm, days = a.model, a.rhythm, a.silent_days
    if rhythm is None:
        text = (f"no rhythm yet ({_plural(a.history_active_days, 'active day')} in the last {model.history_days} "
                f"days); {_silent(days, days, False)}")
    else:
        text = f"{_usually(rhythm)}; {_silent(days, a.silent_units, rhythm.weekdays_only)}"
    if a.state == "inactive":
        return text + f", past the {model.inactive_days}-day inactivity threshold"
    if rhythm is None:
        return text
    if a.state == "going_quiet":
        unit = "weekday" if rhythm.weekdays_only else "day"
        return text + f", beyond its usual gaps of up to {_plural(rhythm.high_gap, unit)}"
    if a.state == "slowing":
        recent = round(rhythm.recent_rate * model.recent_days)
        expected = round((rhythm.baseline_rate or 0) * model.recent_days)
        return text + f"; active {recent} of the last {model.recent_days} days against {expected} usually"
    return text


def assess(bits: int, start: date, today: date, last: date, model: ChurnModel) -> Assessment:
    """The state of an account active on the days of `bits` (bit p: day `start + p`, see `rhythm_of`),
    last active on `last` (which may be before `start`), as of `today`."""
    days = (today - last).days
    if days < 0:
        days = 0
    rhythm = rhythm_of(bits, start, today, model)
    if rhythm is None:
        active = (bits & ((1 << ((today - start).days + 1)) - 1)).bit_count()
        state: State = "inactive" if days >= model.inactive_days else "active"
        return Assessment(state, round(days / model.inactive_days, 2), days, None, model, days, active)
    quiet = silence(today, last, rhythm.weekdays_only) if rhythm.weekdays_only else days
    ratio = quiet / rhythm.quiet_after
    baseline = rhythm.baseline_rate
    slowing = False
    drop = 0.0
    if baseline and baseline * model.recent_days >= model.slowing_min_days:
        drop = max(0.0, 1 - rhythm.recent_rate / baseline)
        slowing = rhythm.recent_rate <= model.slowing_ratio * baseline
    if days >= model.inactive_days:
        state = "inactive"
    elif quiet >= rhythm.quiet_after:
        state = "going_quiet"
    elif slowing:
        state = "slowing"
    else:
        state = "active"
    score = ratio if ratio >= 0.99 * drop else 0.99 * drop
    return Assessment(state, round(score, 2), days, rhythm, model, quiet, rhythm.active_days)
