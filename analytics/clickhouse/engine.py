"""What the rest of analytics needs of ClickHouse, embedded or remote."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.sql.expression import ClauseElement

from analytics.ingest.encoding import encode_events
from analytics.ingest.model import Event

if TYPE_CHECKING:
    from analytics.clickhouse.cluster import Cluster

Statement = str | ClauseElement


class ClickHouseError(Exception):
    """A statement failed or ClickHouse could not be reached."""


class Rows(list[tuple[Any, ...]]):
    """Result rows as tuples; ``columns`` names them."""

    def __init__(self, rows: Iterable[tuple[Any, ...]] = (), columns: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.columns: tuple[str, ...] = tuple(columns)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self]


class ClickHouse(ABC):
    """One ClickHouse database, embedded or remote. Thread-safe.

    Both kinds take the same SQLAlchemy statements (built on the tables in ``analytics.migrations``), rendered
    to SQL text by ``analytics.clickhouse.sql``, and both return rows with Python values of the same types:
    DateTime as aware UTC datetimes, Date as dates, UUID as uuid.UUID.

    Compare DateTime columns with datetimes and Date columns with dates: ClickHouse 18.16 compares a DateTime
    with a Date numerically (seconds against days).
    """

    database: str = "default"
    cluster: Cluster | None = None
    """The cluster the database spans (only a server's engine has one): the schema is laid out for it
    (``analytics.migrations.topology``)."""

    @abstractmethod
    def execute(self, statement: Statement) -> Rows: ...

    @abstractmethod
    def insert_encoded(self, chunks: Sequence[bytes]) -> None:
        """Insert rows of ``events`` in the spool's form (``analytics.ingest.blocks``)."""

    def insert_events(self, rows: Sequence[Event]) -> None:
        if rows:
            self.insert_encoded([encode_events(rows)])

    @abstractmethod
    def ping(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> ClickHouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
