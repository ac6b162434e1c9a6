"""The validated events of one request, column by column, as both ways of validating a body give them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from analytics.ingest import blocks
from analytics.ingest.model import Event

NO_PROPERTIES: dict[str, Any] = {}
"""The properties of an event posted without any (shared, never changed)."""


class Posted:
    """The validated events of one request, column by column, ready to be spooled.

    ``organizations`` are as posted (possibly empty); the provider decides the stored ones and passes them to
    ``encode``. Event ids are 16-byte big-endian UUIDs back to back, timestamps unix seconds, properties the
    UTF-8 text of a JSON object each (bytes, or msgspec.Raw from the fast path: bytes-like either way).
    """

    __slots__ = ("accounts", "client_id", "ids", "names", "objects", "organizations", "properties", "received_at",
                 "timestamps")

    def __init__(self, client_id: str, received_at: int) -> None:
        self.client_id = client_id
        self.received_at = received_at
        self.ids = b""  # the 16-byte ids back to back
        self.accounts: list[str] = []
        self.organizations: list[str] = []
        self.names: list[str] = []
        self.timestamps: list[int] = []
        self.properties: list[Any] = []
        # The posted properties (NO_PROPERTIES for none), or None: decoded from their text when events() needs them.
        self.objects: list[dict[str, Any]] | None = []

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, organizations: list[str] | None = None) -> bytes:
        """The spool blob of these events, stored with ``organizations`` (default: as posted)."""
        n = len(self.names)
        timestamps = self.timestamps
        received_at = self.received_at
        return blocks.pack(n, [
            blocks.uuid_column(self.ids),
            blocks.string_column(self.accounts),
            blocks.string_column(self.organizations if organizations is None else organizations),
            blocks.constant_string_column(self.client_id, n),
            blocks.string_column(self.names),
            (blocks.constant_datetime_column(received_at, n) if timestamps.count(received_at) == n
             else blocks.datetime_column(timestamps)),
            blocks.constant_datetime_column(received_at, n),
            blocks.bytes_column(self.properties),
            blocks.constant_string_column("api", n),
        ])

    def events(self, organizations: list[str] | None = None) -> list[Event]:
        received_at = datetime.fromtimestamp(self.received_at, UTC)
        objects = self.objects
        if objects is None:
            objects = [json.loads(bytes(text)) for text in self.properties]
        return [
            Event(uuid.UUID(bytes=event_id), account, organization, self.client_id, name,
                  received_at if timestamp == self.received_at else datetime.fromtimestamp(timestamp, UTC),
                  received_at, properties if properties is not NO_PROPERTIES else {}, "api",
                  bytes(text).decode("utf-8"))
            for event_id, account, organization, name, timestamp, properties, text in zip(
                [self.ids[i:i + 16] for i in range(0, len(self.ids), 16)],
                self.accounts, self.organizations if organizations is None else organizations,
                self.names, self.timestamps, objects, self.properties, strict=True)
        ]
