"""Field values both the reference validator and the fast path read the same way: moments and event ids."""

from __future__ import annotations

import math
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.ingest.errors import Collector
from analytics.ingest.model import MAX_FUTURE, whole_seconds

MISSING: Any = object()
"""A field the event does not have."""

# DateTime in ClickHouse is an unsigned 32-bit count of seconds.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATETIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)


def parse_moment(value: object, index: int | None, field_name: str, errors: Collector) -> datetime | None:
    """An ISO-8601 string or a number of unix seconds, as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.add(index, field_name, "must be an ISO-8601 string or a number of unix seconds")
        return None
    if isinstance(value, str):
        if len(value) > 64:
            errors.add(index, field_name, "is not an ISO-8601 date-time")
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            errors.add(index, field_name, "is not an ISO-8601 date-time")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            errors.add(index, field_name, "is out of range")
            return None
    else:
        if not math.isfinite(value):
            errors.add(index, field_name, "must be a finite number")
            return None
        try:
            moment = _EPOCH + timedelta(seconds=value)
        except OverflowError:
            errors.add(index, field_name, "is out of range")
            return None
    if not _EPOCH <= moment <= _DATETIME_MAX:
        errors.add(index, field_name, "is out of range")
        return None
    return moment


def event_seconds(raw_timestamp: object, raw_sent_at: object, batch_sent_at: datetime | None, now: datetime,
                  oldest: datetime | None, retention_days: int, index: int, errors: Collector) -> int:
    """The stored timestamp (unix seconds) of the ``index``-th event, from its posted ``timestamp`` and
    ``sent_at`` (``MISSING`` when absent) and the batch's ``sent_at``; problems go to ``errors``.

    ``now`` is whole seconds; ``oldest`` is ``now`` less the retention window (None when that overflows).
    An event without a ``timestamp`` is stamped ``now`` by the server's clock: ``sent_at`` corrects the
    client's clock, so it shifts only a timestamp the client gave (it is still checked).
    """
    seconds = int(now.timestamp())
    sent_at = batch_sent_at
    if raw_sent_at is not MISSING:
        sent_at = parse_moment(raw_sent_at, index, "sent_at", errors)
    if raw_timestamp is MISSING:
        if oldest is None:
            _ = now - timedelta(days=retention_days)  # raises OverflowError, as for an event without sent_at
        return seconds
    timestamp = parse_moment(raw_timestamp, index, "timestamp", errors)
    if timestamp is None:
        return seconds
    if sent_at is not None:
        # The client's clock is off by (sent_at - now); shift its timestamps by the same amount.
        timestamp = timestamp - (sent_at - now)
    timestamp = whole_seconds(timestamp)
    if timestamp > now + MAX_FUTURE:
        timestamp = now
    if timestamp < (oldest if oldest is not None else now - timedelta(days=retention_days)):
        errors.add(index, "timestamp", f"is older than the {retention_days}-day retention window")
    return int(timestamp.timestamp())


def uuid4_bytes() -> bytes:
    """A new random (version 4) UUID as 16 big-endian bytes."""
    value = bytearray(os.urandom(16))
    value[6] = (value[6] & 0x0F) | 0x40
    value[8] = (value[8] & 0x3F) | 0x80
    return bytes(value)


def uuid_bytes(raw: object) -> bytes | None:
    """The 16 bytes of the UUID ``raw`` names, or None: uuid.UUID(raw)'s rules (for a string of at most 64
    characters), fast for the canonical form."""
    if type(raw) is str and len(raw) == 36:
        digits = raw.replace("-", "")
        if len(digits) == 32:
            try:
                value = bytes.fromhex(digits)
            except ValueError:
                value = b""
            if len(value) == 16:
                return value
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    try:
        return uuid.UUID(raw).bytes
    except ValueError:
        return None
