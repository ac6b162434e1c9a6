"""Exact daily counts of usage events, kept up to date for top events (`analytics.queries.adoption`).

Counting the distinct event ids of a 30-day range live means filling hash sets with every id of the
range (about 85 ms per 1.8 M events on ClickHouse 18.16). The counts of a past day rarely change, so
they are counted once per day and stored in `usage_daily`; only the days that changed since are counted
live. The protocol:

* Every insert into `events` records, through `usage_changes_mv`, the UTC days of its usage events with
  the server's `now()` at the time its block went through the views (`usage_changes`).
* A rollup takes r0 = ClickHouse `now()`, then for every day that changed at or after its last rollup's
  `counted_before` (or has no rollup), counts the distinct ids per organization and name in
  `usage_events`, inserts the counts into `usage_daily` with version r0, and only then records
  (day, rolled_at = r0, counted_before = r0 - margin) in `usage_rollups`.
* A reader takes a day from `usage_daily` only when it is clean: its latest rollup exists and every change
  of the day is older than that rollup's `counted_before`. Every other day of the range is counted live
  from `usage_events`, as before.

Why the margin: a change row carries the time its insert went through the views, but the insert's rows
become visible a little later, when its parts are committed. A change made before r0 - margin belongs to
an insert whose parts were visible by r0, before the rollup read the day, as long as an insert's block
takes less than the margin from `now()` in the view to its last part being committed. The writer's
inserts take well under a second (a benchmark load block of a million rows a few seconds); the margin is
five minutes. A change made later than that makes the day dirty, whatever the rollup saw. Only callers
that know no insert is running (the benchmark after its load, tests) may pass a smaller margin.

Why readers take the newest row of each key (argMax(events, version)) rather than the rows of the
latest rollup: a rollup that stopped between its two inserts (or ran beside another writer's) leaves
rows newer than the day's recorded rollup, and a merge may then drop the older ones. Such rows were
counted after the recorded rollup read the day, so while the day is clean they hold the same counts.
Keys never disappear from a day: events are only inserted, and retention drops whole months of every
table at once.

Events are counted by `uniqExact` of the id's 64-bit hash (`queries.sql.EVENT_KEY`), per day,
organization and name: duplicates of an event share its id, organization and name. An event whose
retried copies carry timestamps on different UTC days (a retry of an event without a timestamp, or with a
clock-corrected one, around midnight) is in the counts of each of its days. The rollup therefore also
records, in `usage_repeats`, every day of each event of the days it counts that has copies on other days
(one pass over the ids of `usage_events`), before it marks the days counted; top events subtract, per
event, the clean days of the range it is on beyond one (and all of them when it is on a live day too).
Until the day of a new copy is rolled up, such an event counts once more in ranges holding both days:
the reader cannot tell without reading every id of the clean days, which is what the rollup avoids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from analytics.queries.sql import EVENT_KEY, Executor, date_literal, from_day_number, from_epoch, run

log = logging.getLogger(__name__)

MARGIN = timedelta(minutes=5)
"""How long an insert may take from its `now()` in the views to its rows being visible (see above)."""

DAYS_PER_STATEMENT = 31
"""Days counted by one INSERT ... SELECT (a first rollup over a year of days reads it in parts)."""


@dataclass(frozen=True, slots=True)
class Rollup:
    days: list[date]
    """The days counted again."""
    rolled_at: datetime | None
    seconds: float


def days_in(days: Sequence[date]) -> str:
    """`day IN (...)` over a non-empty list of days."""
    return f"day IN ({', '.join(date_literal(day) for day in days)})"


def dirty_days(engine: Executor) -> list[date]:
    """The days whose latest change is not older than their latest rollup's `counted_before` (or that have
    no rollup), oldest first."""
    changed = _latest(engine, "SELECT toUInt16(day), toUInt32(max(changed_at)) FROM usage_changes GROUP BY day")
    counted = _latest(
        engine,
        "SELECT toUInt16(day), toUInt32(argMax(counted_before, rolled_at)) FROM usage_rollups GROUP BY day",
    )
    return sorted(from_day_number(day) for day, at in changed.items() if at >= counted.get(day, -1))


def clean_days(engine: Executor, start: date, end: date) -> list[date]:
    """The days of `[start, end)` whose stored counts in `usage_daily` are exact (see the module doc)."""
    span = f"day >= {date_literal(start)} AND day < {date_literal(end)}"
    rows = run(
        engine,
        "SELECT kind, toUInt16(day), at FROM ("
        f" SELECT 0 AS kind, day, toUInt32(max(changed_at)) AS at FROM usage_changes WHERE {span} GROUP BY day"
        " UNION ALL"
        " SELECT 1 AS kind, day, toUInt32(argMax(counted_before, rolled_at)) AS at"
        f" FROM usage_rollups WHERE {span} GROUP BY day)",
    )
    changed: dict[int, int] = {}
    counted: dict[int, int] = {}
    for kind, day, at in rows:
        (counted if int(kind) else changed)[int(day)] = int(at)
    return sorted(
        from_day_number(day) for day, before in counted.items() if changed.get(day, -1) < before
    )


def roll_up(engine: Executor, *, margin: timedelta = MARGIN) -> Rollup:
    """Count again every dirty day; returns the days counted and how long it took."""
    started = time.monotonic()
    days = dirty_days(engine)
    if not days:
        return Rollup([], None, time.monotonic() - started)
    rolled_at = int(run(engine, "SELECT toUInt32(now())")[0][0])
    before = rolled_at - int(margin.total_seconds())
    for chunk in _chunks(days, DAYS_PER_STATEMENT):
        engine.execute(
            "INSERT INTO usage_daily (day, organization, name, events, version)"
            f" SELECT day, organization, name, uniqExact({EVENT_KEY}), toDateTime({rolled_at})"
            f" FROM usage_events WHERE {days_in(chunk)} GROUP BY day, organization, name"
        )
        # Events with copies on other days: every copy's day, whichever day the copy that made it one
        # arrived on (top events subtract these from the daily counts).
        engine.execute(
            "INSERT INTO usage_repeats (day, organization, name, event)"
            " SELECT tupleElement(copy, 1), tupleElement(copy, 2), tupleElement(copy, 3), key FROM ("
            f"  SELECT {EVENT_KEY} AS key, groupUniqArray((day, organization, name)) AS copies"
            f"  FROM usage_events WHERE {EVENT_KEY} IN (SELECT {EVENT_KEY} FROM usage_events WHERE {days_in(chunk)})"
            "  GROUP BY key HAVING uniqExact(day) > 1)"
            " ARRAY JOIN copies AS copy"
        )
        # Recorded only once the counts and repeats are stored: a day is never clean without them.
        listed = ", ".join(date_literal(day) for day in chunk)
        engine.execute(
            "INSERT INTO usage_rollups (day, rolled_at, counted_before)"
            f" SELECT arrayJoin([{listed}]), toDateTime({rolled_at}), toDateTime({before})"
        )
    seconds = time.monotonic() - started
    log.info("rolled up usage of %d days in %.2f s", len(days), seconds)
    return Rollup(days, from_epoch(rolled_at), seconds)


def _latest(engine: Executor, statement: str) -> dict[int, int]:
    return {int(day): int(at) for day, at in run(engine, statement)}


def _chunks(days: Sequence[date], size: int) -> Iterable[Sequence[date]]:
    for index in range(0, len(days), size):
        yield days[index : index + size]
