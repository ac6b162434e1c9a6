"""What every ClickHouse schema version is made of: tables, materialized views, backfills.

Everything here runs on ClickHouse 18.16 as well as on current releases: no DateTime64, TTL, CODEC, Map,
LowCardinality or server-side query parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from analytics import provider_events

if TYPE_CHECKING:
    from analytics.clickhouse import ClickHouse

log = logging.getLogger(__name__)

metadata = sa.MetaData()
"""The tables as they are after the latest migration."""

# Activity is a sign-in, a token issued or refreshed for a user, or an event posted by a resource server.
ACTIVITY_CONDITION = "account != '' AND (source = 'api' OR name IN ({names}))".format(
    names=", ".join(f"'{name}'" for name in provider_events.ACTIVITY)
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[], Sequence[sa.Table | MaterializedView]]
    """What it creates, in order (rendered for one server or a cluster by ``analytics.migrations.topology``)."""
    backfill: Callable[[ClickHouse], None] | None = None
    """Fills a new table from the events already stored; runs after the statements and must be idempotent."""


@dataclass(frozen=True)
class MaterializedView:
    """A view that feeds ``target`` with ``select`` over every block inserted into `events`.

    clickhouse-sqlalchemy cannot express a materialized view feeding an existing table: the DDL is text.
    """

    name: str
    target: sa.Table
    select: str

    def ddl(self) -> str:
        return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.name} TO {self.target.name} AS{self.select}".strip()


def _dialect() -> sa.engine.Dialect:
    from clickhouse_sqlalchemy.drivers.native.base import ClickHouseDialect_native

    return ClickHouseDialect_native()  # type: ignore[no-any-return]


def create_table_sql(table: sa.Table) -> str:
    return str(CreateTable(table, if_not_exists=True).compile(dialect=_dialect())).strip()


def column_types(table: sa.Table) -> tuple[str, ...]:
    """The ClickHouse type of each column of ``table``, as its DDL (and so the server) spells it."""
    compiler = _dialect().type_compiler
    return tuple(compiler.process(column.type, type_expression=column) for column in table.columns)


def backfill(target: sa.Table, select: Callable[[str], str], condition: str) -> Callable[[ClickHouse], None]:
    """Insert ``select(condition)`` over the stored events into ``target``, one month of events at a time.

    The materialized view exists before this runs, so an event inserted meanwhile may be counted by both;
    the targets are idempotent (bitwise OR, sets of ids, rows collapsing on the event id), so that changes nothing,
    and neither does running the backfill again after an interruption.
    """

    def run(engine: ClickHouse) -> None:
        rows = engine.execute("SELECT DISTINCT toYYYYMM(timestamp) AS m FROM events ORDER BY m")
        columns = ", ".join(column.name for column in target.columns)
        for (month,) in rows:
            # `events` is partitioned by toYYYYMM(timestamp): each statement reads one partition.
            engine.execute(
                f"INSERT INTO {target.name} ({columns})" + select(f"toYYYYMM(timestamp) = {int(month)} AND {condition}")
            )
            log.info("filled %s from the events of %s", target.name, month)

    return run
