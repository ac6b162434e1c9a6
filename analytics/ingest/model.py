"""A usage event as stored in ClickHouse, and the limits of what one may hold."""

from __future__ import annotations

import functools
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from analytics import provider_events

Source = Literal["idp", "api"]

MAX_BATCH = 1000
MAX_NAME_LENGTH = 128
MAX_IDENTIFIER_LENGTH = 256
MAX_PROPERTIES_BYTES = 8 * 1024
MAX_FUTURE = timedelta(hours=1)
PROVIDER_NAMES = frozenset(provider_events.ALL)
"""Names of the events the provider records about itself (source 'idp'): a posted event may not take one, so
that a sign-in or a token counted anywhere is one the provider saw."""

_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
# Compact JSON with sorted keys: the stored text of an event's properties.
ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Event:
    """One usage event as stored in ClickHouse (timestamps are UTC, whole seconds)."""

    event_id: uuid.UUID
    account: str
    organization: str
    client_id: str
    name: str
    timestamp: datetime
    received_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    source: Source = "api"
    # The properties as compact JSON text, computed once: validation measures it and the spool stores it.
    properties_text: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.properties_text:
            text = ENCODER.encode(self.properties) if self.properties else "{}"
            object.__setattr__(self, "properties_text", text)

    @classmethod
    def for_idp(
        cls,
        name: str,
        account: str,
        *,
        organization: str = "",
        client_id: str = "",
        properties: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Event:
        """An event the provider records about itself (sign-ins, tokens); ``account`` may be ''."""
        if not valid_name(name):
            raise ValueError(f"invalid event name {name!r}")
        at = whole_seconds(now) if now is not None else datetime.fromtimestamp(int(time.time()), UTC)
        copied = dict(properties) if properties else {}
        return cls(uuid.UUID(bytes=os.urandom(16), version=4), account, organization, client_id, name, at, at,
                   copied, "idp")

    def properties_json(self) -> str:
        return self.properties_text


def valid_name(name: object) -> bool:
    """1 to MAX_NAME_LENGTH letters, digits and ``_ . : -``."""
    if isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH and _name_characters_ok(name):
        if len(GOOD_NAMES) < 4096 and type(name) is str:
            GOOD_NAMES.add(name)
        return True
    return False


# Names already found valid: clients post the same few over and over, and a set look-up is the cheapest check.
GOOD_NAMES: set[str] = set()


@functools.lru_cache(maxsize=1024)
def _name_characters_ok(name: str) -> bool:
    # Clients post the same few names over and over; a cache hit is cheaper than the regular expression.
    return _NAME.fullmatch(name) is not None


def whole_seconds(moment: datetime) -> datetime:
    """``moment`` in UTC without its fraction of a second; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)
