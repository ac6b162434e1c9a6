"""The fast path of ingest: batches of well-formed events decoded by a typed msgspec decoder.

Nearly every body a resource server posts is a batch of well-formed events. For those the decoder does the
per-event work in C (field names, types, the end of each properties object), and Python checks each distinct
account, organization and name once and each column as a whole. Anything else — a single event, a field of
another type, an id not in the canonical form, any problem at all — is declined (None), and goes to the
reference validator (``analytics.ingest.validate``), which reports every problem with its index and field.
This path accepts only bodies that the validator accepts too, and gives the same columns
(tests/analytics/test_ingest.py compares the two on generated bodies).

One difference is by design: the fast path stores each properties object as posted (its own JSON text,
checked: valid UTF-8, no NaN or infinities, no lone surrogates, a JSON object), where the validator stores
the re-serialized object with sorted keys. Both are the same JSON value, at most MAX_PROPERTIES_BYTES long
as stored.
"""

from __future__ import annotations

import binascii
import os
from datetime import datetime, timedelta
from typing import Any

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from analytics.ingest.errors import Collector
from analytics.ingest.fields import MISSING, event_seconds, parse_moment, uuid4_bytes, uuid_bytes
from analytics.ingest.model import (
    MAX_BATCH,
    MAX_IDENTIFIER_LENGTH,
    MAX_PROPERTIES_BYTES,
    PROVIDER_NAMES,
    valid_name,
    whole_seconds,
)
from analytics.ingest.posted import Posted

Moment = str | int | float | UnsetType


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    event_id: str | UnsetType = UNSET
    account: str | UnsetType = UNSET
    organization: str = ""
    properties: msgspec.Raw | UnsetType = UNSET
    timestamp: Moment = UNSET
    sent_at: Moment = UNSET


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    batch: list[_Event]
    sent_at: Moment = UNSET


_DECODER = msgspec.json.Decoder(_Batch)
_NOT_TAKEN = (msgspec.MsgspecError, ValueError, RecursionError)
# Version 4 and RFC 4122 variant bits, applied to every 16th byte at once by bytes.translate.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))
_DASHES_AT = (8, 13, 18, 23)
# JSON text with every digit as 0 and E as e: a number that may be too large for a float shows as an exponent
# of three digits or more (0e000, 0e+000) or as 200 digits in a row (an integer part of at most 199 digits and
# an exponent of at most 99 stay below 1e308).
_NUMBER_SHAPE = bytes.maketrans(b"123456789E", b"000000000e")
_MANY_DIGITS = b"0" * 200


def decode_batch(
    body: bytes,
    *,
    default_account: str | None,
    client_id: str,
    now: datetime,
    retention_days: int,
) -> Posted | None:
    """The columns of a batch of valid events, or None when the reference validator must decide."""
    try:
        envelope = _DECODER.decode(body)
    except _NOT_TAKEN:
        return None
    events = envelope.batch
    n = len(events)
    if not 1 <= n <= MAX_BATCH:
        return None
    now = whole_seconds(now)
    try:
        oldest = now - timedelta(days=retention_days)
    except OverflowError:
        return None

    names = [e.name for e in events]
    distinct_names = set(names)
    if not all(map(valid_name, distinct_names)) or not PROVIDER_NAMES.isdisjoint(distinct_names):
        return None
    accounts = _accounts([e.account for e in events], default_account)
    organizations = [e.organization for e in events]
    if accounts is None or any(len(o) > MAX_IDENTIFIER_LENGTH for o in set(organizations)):
        return None
    ids = _event_ids([e.event_id for e in events])
    properties = _properties([e.properties for e in events])
    if ids is None or properties is None:
        return None
    timestamps = _timestamps(envelope, now, oldest, retention_days)
    if timestamps is None:
        return None

    posted = Posted(client_id, int(now.timestamp()))
    posted.ids = ids
    posted.accounts = accounts
    posted.organizations = organizations
    posted.names = names
    posted.timestamps = timestamps
    posted.properties = properties
    posted.objects = None
    return posted


def _accounts(posted: list[str | UnsetType], default_account: str | None) -> list[str] | None:
    """Each event's account (the token's user where none is posted), or None when one is not acceptable."""
    distinct = set(posted)
    if UNSET in distinct:
        if default_account is None:
            return None
        distinct.discard(UNSET)
        posted = [default_account if a is UNSET else a for a in posted]
    for account in distinct:
        assert isinstance(account, str)
        if not 0 < len(account) <= MAX_IDENTIFIER_LENGTH:
            return None
    return posted  # type: ignore[return-value]


def _event_ids(posted: list[str | UnsetType]) -> bytes | None:
    """Each event's id as 16 big-endian bytes (a new UUIDv4 where none is posted), or None."""
    n = len(posted)
    missing = posted.count(UNSET)
    if missing == n:
        data = _random_uuids(n)
    elif missing:
        values = [uuid4_bytes() if raw is UNSET else uuid_bytes(raw) for raw in posted]
        return None if None in values else b"".join(values)  # type: ignore[arg-type]
    else:
        # All posted in the canonical 8-4-4-4-12 form: checked and converted for the whole batch at once.
        texts: list[str] = posted  # type: ignore[assignment]
        if set(map(len, texts)) != {36}:
            return None
        joined = "".join(texts)
        dashes = "-" * n
        if any(joined[at::36] != dashes for at in _DASHES_AT):
            return None
        try:
            data = binascii.unhexlify(joined.encode("ascii").translate(None, b"-"))
        except ValueError:  # not ASCII, not hex digits, or an odd number of them
            return None
        if len(data) != 16 * n:  # a dash elsewhere too
            return None
    return bytes(data)


def _random_uuids(n: int) -> bytes | bytearray:
    """``n`` random (version 4) UUIDs, 16 bytes each, back to back."""
    data = bytearray(os.urandom(16 * n))
    data[6::16] = data[6::16].translate(_VERSION_4)
    data[8::16] = data[8::16].translate(_VARIANT)
    return data


def _properties(posted: list[msgspec.Raw | UnsetType]) -> list[msgspec.Raw | bytes] | None:
    """Each event's properties as stored (its JSON text), or None.

    The decoder has checked the JSON of each (no NaN or infinities, no lone surrogates, nesting within its
    limit) but neither its type nor its UTF-8 nor the range of its numbers: those are checked here, on the
    whole batch's text at once.
    """
    texts: list[msgspec.Raw | bytes] = [b"{}" if raw is UNSET else raw for raw in posted]  # type: ignore[misc]
    if max(map(len, texts)) > MAX_PROPERTIES_BYTES:
        return None
    # Raw JSON holds no NUL byte, so each text starts right after one in the joined form.
    joined = b"\0".join(texts)
    if joined[:1] != b"{" or joined.count(b"\0{") != len(texts) - 1:
        return None  # not a JSON object
    if not joined.isascii():
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            return None
    shape = joined.translate(_NUMBER_SHAPE)
    if b"0e000" in shape or b"0e+000" in shape or _MANY_DIGITS in shape:
        # Perhaps beyond a float's range (1e999): orjson decides.
        try:
            orjson.loads(b"[" + b",".join(texts) + b"]")
        except orjson.JSONDecodeError:
            return None
    return texts


def _timestamps(envelope: _Batch, now: datetime, oldest: datetime, retention_days: int) -> list[int] | None:
    """Each event's stored timestamp (unix seconds), or None when one is not acceptable."""
    events = envelope.batch
    n = len(events)
    stamps: list[Any] = [e.timestamp for e in events]
    sent: list[Any] = [e.sent_at for e in events]
    if envelope.sent_at is UNSET and stamps.count(UNSET) == n and sent.count(UNSET) == n:
        return [int(now.timestamp())] * n
    errors = Collector()
    batch_sent_at = None
    if envelope.sent_at is not UNSET:
        batch_sent_at = parse_moment(envelope.sent_at, None, "sent_at", errors)
    seconds = [
        event_seconds(MISSING if stamp is UNSET else stamp, MISSING if at is UNSET else at, batch_sent_at, now,
                      oldest, retention_days, index, errors)
        for index, (stamp, at) in enumerate(zip(stamps, sent, strict=True))
    ]
    return None if errors.errors else seconds
