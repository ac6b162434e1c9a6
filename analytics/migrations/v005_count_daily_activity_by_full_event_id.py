"""Version 5: daily_activity with sets of the ids' full 64-bit hashes in place of sets of UUIDs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clickhouse_sqlalchemy import types

from analytics.migrations.base import (
    ACTIVITY_CONDITION,
    MaterializedView,
    Migration,
    backfill,
    metadata,
)
from analytics.migrations.topology import ON_CLUSTER, Topology
from analytics.migrations.v002_count_daily_activity_per_organization import (
    daily_activity_select,
    daily_activity_table,
)

if TYPE_CHECKING:
    from analytics.clickhouse import ClickHouse

EVENT_ID_HASH = "cityHash64(reinterpretAsString(event_id))"

# Activity per organization, day and account (see version 2 for the sort key). The set holds a 64-bit hash of
# all 16 bytes of each id (`cityHash64(reinterpretAsString(event_id))`): over a UUID, ClickHouse 18.16 hashes
# only half of the id, so ids crafted to share that half would make every insert into the set, and every merge
# of two sets, slower with the size of the set.
daily_activity = daily_activity_table("daily_activity", types.UInt64, metadata)
# Built under this name, filled, and put in place of version 2's table.
daily_activity_next = daily_activity_table("daily_activity_next", types.UInt64)
# Only on one server: a cluster creates the new table in place of the old one (see replace_daily_activity).
daily_activity_next.info[ON_CLUSTER] = False

DAILY_ACTIVITY_MV = MaterializedView(
    "daily_activity_mv", daily_activity, daily_activity_select(EVENT_ID_HASH, ACTIVITY_CONDITION)
)


def _column_type(engine: ClickHouse, table: str, column: str) -> str | None:
    rows = engine.execute(
        "SELECT type FROM system.columns"
        f" WHERE database = currentDatabase() AND table = '{table}' AND name = '{column}'"
    )
    return str(rows[0][0]) if rows else None


def replace_daily_activity(engine: ClickHouse) -> None:
    """Put daily_activity with sets of full id hashes in place of the one with sets of UUIDs, and refill it.

    Each step checks what is there, so an interrupted run resumes. The old table's rows are all derived
    from `events` (same monthly partitions and retention), so the refill loses nothing. Events inserted
    while no view feeds the table are covered: the refill reads `events` after the new view exists, and
    sets of ids make counting an event twice impossible.

    On a cluster the new table is created in place of the old one rather than built under another name and
    renamed: a replicated table keeps the ZooKeeper path of the name it was created with, and a rerun of this
    version's statements would create `daily_activity_next` on that path again.
    """
    topology = Topology.of(engine)
    current = _column_type(engine, topology.local("daily_activity"), "events")
    if current is not None and "UUID" in current:
        for statement in topology.drop("daily_activity_mv") + topology.drop("daily_activity"):
            engine.execute(statement)
        current = None
    if topology.cluster is not None:
        for statement in topology.create(daily_activity):
            engine.execute(statement)
    elif current is None:
        engine.execute("RENAME TABLE daily_activity_next TO daily_activity")
    else:
        engine.execute("DROP TABLE IF EXISTS daily_activity_next")
    for statement in topology.create(DAILY_ACTIVITY_MV):
        engine.execute(statement)
    fill = backfill(
        daily_activity,
        lambda condition: daily_activity_select(EVENT_ID_HASH, condition),
        f"({ACTIVITY_CONDITION})",
    )
    fill(engine)


MIGRATION = Migration(
    5,
    "count_daily_activity_by_full_event_id",
    lambda: [daily_activity_next],
    replace_daily_activity,
)
