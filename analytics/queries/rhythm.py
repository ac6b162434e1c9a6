"""An account's rhythm: how often it is usually active, learned from its own active days.

The input is the account's active UTC days over the `history_days` days that end with today, as an integer
whose bit `p` is the day `start + p` (`start = today - history_days + 1`); ClickHouse keeps them as monthly
day masks (`account_activity`) and `analytics.queries.windows` reads them in this shape. From them:

- **gaps**: the days from one active day to the next (1 for two days in a row). An account that keeps to
  weekdays (at least `weekday_share` of its active days fall on Monday to Friday) counts gaps and silence in
  weekdays: Friday to Monday is a gap of one, a weekend is not silence.
- **usual gap** (the median gap) and **high gap** (the `gap_quantile` of the gaps, nearest rank): how long the
  account usually goes without activity, and how long it goes at the most, bar outliers.
- **quiet after**: the silence that is well beyond its usual gaps, in its own unit (days, or weekdays):
  `ceil(quiet_factor * high gap)`, or, when shorter, the silence its rate of active days `r` (from its first
  to its last active day) makes rarer than `rare_silence` (`ceil(log(rare_silence) / log(1 - r))`: a regular
  daily user's high gap may be two days, yet five silent days in a row are unlikely for it); kept between
  `min_quiet_days` and `max_quiet_days`.
- **rates**: active days per day over the last `recent_days` (today included) and over the days before them
  since its first active day of the window (the baseline).

Too little history — fewer than `min_active_days` active days, or a first active day less than
`min_history_days` ago — is no rhythm (`None`): the fixed threshold alone applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

from analytics.queries.errors import QueryError

MAX_HISTORY_DAYS = 120
"""The window is read as two 64-bit words per account (`analytics.queries.windows`)."""


@dataclass(frozen=True, slots=True)
class ChurnModel:
    """The parameters of the rhythm and of the states (`analytics.queries.risk`), with their defaults."""

    history_days: int = 120
    """Days of activity, today included, that an account's rhythm is learned from (about 17 weeks: a monthly
    user's four beats)."""
    min_active_days: int = 2
    """Fewer active days in the history are no rhythm (one gap at least: a monthly user who skipped a month
    has two)."""
    min_history_days: int = 21
    """A first active day in the history less than this many days ago is no rhythm yet."""
    recent_days: int = 14
    """The recent period whose activity rate is compared with the baseline before it."""
    weekday_share: float = 0.9
    """An account with at least this share of its active days on Monday to Friday keeps to weekdays."""
    gap_quantile: float = 0.85
    """Which gap is the account's high gap (nearest rank)."""
    quiet_factor: float = 4.5
    """The silence that counts as going quiet, in high gaps."""
    rare_silence: float = 0.0001
    """A silence that the account's rate of active days (from its first to its last active day, in its unit)
    would bring about less often than this counts as going quiet too, if shorter than the high gaps say."""
    min_quiet_days: int = 5
    """Going quiet takes at least this long (days, or weekdays), however regular the account."""
    max_quiet_days: int = 90
    """Going quiet takes at most this long (days, or weekdays), however irregular the account."""
    slowing_ratio: float = 0.5
    """Slowing: the recent rate at most this share of the baseline rate."""
    slowing_min_days: int = 4
    """Slowing is judged only for accounts whose baseline rate expects this many active days in the recent
    period (a monthly user's quiet fortnight is no slowdown)."""
    inactive_days: int = 14
    """The fixed threshold: inactive after this many days without activity, rhythm or not."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            kind = float if isinstance(item.default, float) else int
            if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
                raise QueryError(item.name, f"must be {'a number' if kind is float else 'an integer'}")
        if not 28 <= self.history_days <= MAX_HISTORY_DAYS:
            raise QueryError("history_days", f"must be from 28 to {MAX_HISTORY_DAYS}")
        if not 2 <= self.min_active_days <= self.history_days:
            raise QueryError("min_active_days", "must be from 2 to history_days")
        if not 0 <= self.min_history_days <= self.history_days:
            raise QueryError("min_history_days", "must be from 0 to history_days")
        if not 1 <= self.recent_days < self.history_days:
            raise QueryError("recent_days", "must be from 1 to history_days - 1")
        if not 0.5 <= self.weekday_share <= 1:
            raise QueryError("weekday_share", "must be from 0.5 to 1")
        if not 0.5 <= self.gap_quantile <= 1:
            raise QueryError("gap_quantile", "must be from 0.5 to 1")
        if not 1 <= self.quiet_factor <= 10:
            raise QueryError("quiet_factor", "must be from 1 to 10")
        if not 0 < self.rare_silence < 0.5:
            raise QueryError("rare_silence", "must be between 0 and 0.5")
        if not 1 <= self.min_quiet_days <= 3650:
            raise QueryError("min_quiet_days", "must be from 1 to 3650")
        if not self.min_quiet_days <= self.max_quiet_days <= 3650:
            raise QueryError("max_quiet_days", "must be from min_quiet_days to 3650")
        if not 0 < self.slowing_ratio < 1:
            raise QueryError("slowing_ratio", "must be between 0 and 1")
        if not 1 <= self.slowing_min_days <= self.recent_days:
            raise QueryError("slowing_min_days", "must be from 1 to recent_days")
        if not 1 <= self.inactive_days <= 3650:
            raise QueryError("inactive_days", "must be from 1 to 3650")

    def start(self, today: date) -> date:
        """The first day of the history that ends with `today`."""
        return today - timedelta(days=self.history_days - 1)


class Rhythm(NamedTuple):
    active_days: int
    """Active days in the history."""
    days_per_week: float
    """Active days per week from its first to its last active day of the history."""
    weekdays_only: bool
    """Gaps and silence are counted in weekdays."""
    usual_gap: int
    """Median gap, in days (weekdays when `weekdays_only`)."""
    high_gap: int
    """The `gap_quantile` gap, same unit."""
    quiet_after: int
    """Silence, same unit, that counts as going quiet."""
    recent_rate: float
    """Active days per day over the recent period."""
    baseline_rate: float | None
    """Active days per day before the recent period, since the first active day; None when that span is
    shorter than the recent period."""


@lru_cache(maxsize=64)
def weekday_positions(start: date, length: int) -> tuple[int, tuple[int, ...]]:
    """A mask of the positions of the window starting `start` that are Monday to Friday, and the positions in
    most-recent-first order of the window's text (`bin` writes the highest bit first)."""
    mask = 0
    positions = []
    for p in range(length):
        if (start + timedelta(days=p)).weekday() < 5:
            mask |= 1 << p
            positions.append(length - 1 - p)
    return mask, tuple(sorted(positions))


def _gaps(span: str) -> list[int]:
    """Gaps between the `1`s of a text of `0`s and `1`s that starts and ends with one, less one (the days
    without activity between two active days), sorted."""
    return sorted(map(len, span.split("1")[1:-1]))


def _quantile(ordered: list[int], q: float) -> int:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def rhythm_of(bits: int, start: date, today: date, model: ChurnModel) -> Rhythm | None:
    """The rhythm of an account active on the days of `bits` (bit p: day `start + p`) as of `today`."""
    length = (today - start).days + 1
    bits &= (1 << length) - 1
    active = bits.bit_count()
    if active < model.min_active_days:
        return None
    first = (bits & -bits).bit_length() - 1
    if length - first < model.min_history_days:
        return None
    weekday_mask, ordered = weekday_positions(start, length)
    weekdays_only = (bits & weekday_mask).bit_count() >= model.weekday_share * active
    text = format(bits, "b").zfill(length)
    if weekdays_only:
        text = "".join(itemgetter(*ordered)(text))
    span = text.strip("0")
    gaps = _gaps(span)
    if not gaps:
        return None
    usual = _quantile(gaps, 0.5) + 1
    high = _quantile(gaps, model.gap_quantile) + 1
    rate = span.count("1") / len(span)
    by_rate = math.ceil(math.log(model.rare_silence) / math.log(1 - rate)) if rate < 1 else 1
    quiet = min(math.ceil(model.quiet_factor * high), by_rate)
    recent = model.recent_days
    recent_active = (bits >> (length - recent)).bit_count()
    baseline_span = length - recent - first
    baseline_rate = (active - recent_active) / baseline_span if baseline_span >= recent else None
    return Rhythm(
        active,
        round(7 * active / (bits.bit_length() - first), 2),
        weekdays_only,
        usual,
        high,
        min(model.max_quiet_days, max(model.min_quiet_days, quiet)),
        recent_active / recent,
        baseline_rate,
    )


def silence(today: date, last: date, weekdays_only: bool) -> int:
    """Days since the last active day (0 when active today); in weekdays, the weekdays after it up to today."""
    days = (today - last).days
    if not weekdays_only or days <= 0:
        return days
    full, rest = divmod(days, 7)
    count = 5 * full
    for offset in range(rest):
        if (last + timedelta(days=days - offset)).weekday() < 5:
            count += 1
    return count
