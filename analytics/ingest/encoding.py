"""Events in the spool's storage form and back: the Native columns of the `events` table (``blocks``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from analytics.ingest import blocks
from analytics.ingest.model import Event

_UINT32_MAX = 0xFFFFFFFF


def encode_events(events: Iterable[Event]) -> bytes:
    """The spool blob of ``events``; never raises on odd strings (lone surrogates become '?')."""
    rows = list(events)
    n = len(rows)

    def seconds(moment: datetime) -> int:
        # DateTime in ClickHouse is an unsigned 32-bit count of seconds.
        return min(max(int(moment.timestamp()), 0), _UINT32_MAX)

    return blocks.pack(n, [
        blocks.uuid_column(b"".join(e.event_id.bytes for e in rows)),
        blocks.string_column(e.account for e in rows),
        blocks.string_column(e.organization for e in rows),
        blocks.string_column(e.client_id for e in rows),
        blocks.string_column(e.name for e in rows),
        blocks.datetime_column([seconds(e.timestamp) for e in rows]),
        blocks.datetime_column([seconds(e.received_at) for e in rows]),
        blocks.string_column(e.properties_text for e in rows),
        blocks.string_column(e.source for e in rows),
    ])


def decode_rows(chunks: Iterable[bytes]) -> list[dict[str, Any]]:
    """The rows of spool blobs as dicts (event_id as uuid.UUID, DateTime columns as unix seconds)."""
    rows: list[dict[str, Any]] = []
    for chunk in chunks:
        if chunk:
            rows.extend(blocks.rows_of(chunk))
    return rows


def decode_events(chunks: Iterable[bytes]) -> list[Event]:
    return [
        Event(
            event_id=row["event_id"],
            account=row["account"],
            organization=row["organization"],
            client_id=row["client_id"],
            name=row["name"],
            timestamp=datetime.fromtimestamp(row["timestamp"], UTC),
            received_at=datetime.fromtimestamp(row["received_at"], UTC),
            properties=json.loads(row["properties"]),
            source=row["source"],
            properties_text=row["properties"],
        )
        for row in decode_rows(chunks)
    ]
