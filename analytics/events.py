"""Usage events: the model and the validation of what resource servers post.

A request body is either one event object or ``{"batch": [...], "sent_at": ...}``. Validation collects every
problem in the body before rejecting it as a whole, so a client can fix all of them in one round trip.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from analytics import blocks

Source = Literal["idp", "api"]

MAX_BATCH = 1000
MAX_NAME_LENGTH = 128
MAX_IDENTIFIER_LENGTH = 256
MAX_PROPERTIES_BYTES = 8 * 1024
MAX_FUTURE = timedelta(hours=1)

_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_EVENT_FIELDS = frozenset({"event_id", "name", "account", "organization", "timestamp", "sent_at", "properties"})
_ENVELOPE_FIELDS = frozenset({"batch", "sent_at"})
# DateTime in ClickHouse is an unsigned 32-bit count of seconds.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATETIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)
_UINT32_MAX = 0xFFFFFFFF


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_STRICT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)


def _c_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str] | None:
    """``encoder.encode`` for dicts, as one reusable C encoder: ``encode`` builds a new one on every call.

    Without circular-reference markers; a cycle still fails, with RecursionError instead of ValueError.
    """
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    quote: Any = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or quote is None:
        return None
    encode = make(None, encoder.default, quote, None, encoder.key_separator, encoder.item_separator,
                  encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    return lambda value: "".join(encode(value, 0))


_STRICT_DICT_ENCODE = _c_encoder(_STRICT_ENCODER) or _STRICT_ENCODER.encode
MISSING: Any = object()
_UUID_NEW = object.__new__
_UUID_SET = object.__setattr__
_UUID_UNKNOWN = uuid.SafeUUID.unknown


class EventValidationError(ValueError):
    """The body was rejected; ``errors`` lists every problem as ``{"index", "field", "message"}``.

    ``index`` is the position in the batch (0 for a single event) or None for the envelope.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s): " + "; ".join(_describe(e) for e in errors[:5]))
        self.errors = errors


def _describe(error: Mapping[str, Any]) -> str:
    where = "envelope" if error["index"] is None else f"event {error['index']}"
    return f"{where} {error['field']}: {error['message']}"


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
            text = _ENCODER.encode(self.properties) if self.properties else "{}"
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
        # One per token the provider issues: built through the slots (see _new_event), not the dataclass's
        # generated __init__.
        at = whole_seconds(now) if now is not None else datetime.fromtimestamp(int(time.time()), UTC)
        copied = dict(properties) if properties else {}
        return _new_event(uuid.UUID(bytes=os.urandom(16), version=4), account, organization, client_id, name, at,
                          at, copied, "idp", _ENCODER.encode(copied) if copied else "{}")

    def properties_json(self) -> str:
        return self.properties_text

    def with_organization(self, organization: str) -> Event:
        """``dataclasses.replace(self, organization=organization)``, without its generic field handling."""
        if organization == self.organization:
            return self
        return _new_event(self.event_id, self.account, organization, self.client_id, self.name, self.timestamp,
                          self.received_at, self.properties, self.source, self.properties_text)


# Building an Event field by field through its slots takes less than half the time of the generated frozen
# __init__ (which goes through object.__setattr__ for each field); ingest builds two per posted event. Only for
# callers that pass every field, properties_text included, so __post_init__ has nothing to do.
_EVENT_FIELDS_IN_ORDER = ("event_id", "account", "organization", "client_id", "name", "timestamp", "received_at",
                          "properties", "source", "properties_text")
if tuple(f.name for f in fields(Event)) != _EVENT_FIELDS_IN_ORDER:
    raise ImportError("analytics.events._new_event does not match the fields of Event")
(_set_event_id, _set_account, _set_organization, _set_client_id, _set_name, _set_timestamp, _set_received_at,
 _set_properties, _set_source, _set_properties_text) = (vars(Event)[name].__set__ for name in _EVENT_FIELDS_IN_ORDER)


def _new_event(
    event_id: uuid.UUID, account: str, organization: str, client_id: str, name: str, timestamp: datetime,
    received_at: datetime, properties: dict[str, Any], source: Source, properties_text: str,
) -> Event:
    event: Event = object.__new__(Event)
    _set_event_id(event, event_id)
    _set_account(event, account)
    _set_organization(event, organization)
    _set_client_id(event, client_id)
    _set_name(event, name)
    _set_timestamp(event, timestamp)
    _set_received_at(event, received_at)
    _set_properties(event, properties)
    _set_source(event, source)
    _set_properties_text(event, properties_text)
    return event


def valid_name(name: object) -> bool:
    if isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH and _name_characters_ok(name):
        if len(_GOOD_NAMES) < 4096 and type(name) is str:
            _GOOD_NAMES.add(name)
        return True
    return False


# Names already found valid: clients post the same few over and over, and a set look-up is the cheapest check.
_GOOD_NAMES: set[str] = set()


@functools.lru_cache(maxsize=1024)
def _name_characters_ok(name: str) -> bool:
    # Clients post the same few names over and over; a cache hit is cheaper than the regular expression.
    return _NAME.fullmatch(name) is not None


def whole_seconds(moment: datetime) -> datetime:
    """``moment`` in UTC without its fraction of a second; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


class Collector:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, index: int | None, field_name: str, message: str) -> None:
        self.errors.append({"index": index, "field": field_name, "message": message})


class Posted:
    """The validated events of one request, column by column, ready to be spooled.

    ``organizations`` are as posted (possibly empty); the provider decides the stored ones and passes them to
    ``encode``. Event ids are 16-byte big-endian UUIDs back to back, timestamps unix seconds, properties the
    UTF-8 text of a JSON object each (bytes, or msgspec.Raw from analytics.ingest: bytes-like either way).
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
        # The posted properties (_EMPTY for none), or None: decoded from their text when events() needs them.
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
            _new_event(_uuid_from_int(int.from_bytes(event_id, "big")), account, organization, self.client_id, name,
                       received_at if timestamp == self.received_at else datetime.fromtimestamp(timestamp, UTC),
                       received_at, properties if properties is not _EMPTY else {}, "api", bytes(text).decode("utf-8"))
            for event_id, account, organization, name, timestamp, properties, text in zip(
                [self.ids[i:i + 16] for i in range(0, len(self.ids), 16)],
                self.accounts, self.organizations if organizations is None else organizations,
                self.names, self.timestamps, objects, self.properties, strict=True)
        ]


def parse_events(
    payload: object,
    *,
    default_account: str | None,
    client_id: str,
    now: datetime,
    retention_days: int,
) -> list[Event]:
    """Validate a decoded JSON body and return its events, or raise EventValidationError listing every error.

    ``default_account`` is the token's subject when the caller posts with a user's token; with a
    client-credentials token it is None and each event must name its account.
    """
    return validate(payload, default_account=default_account, client_id=client_id, now=now,
                    retention_days=retention_days).events()


def validate(
    payload: object,
    *,
    default_account: str | None,
    client_id: str,
    now: datetime,
    retention_days: int,
    orjson_payload: bool = False,
) -> Posted:
    """``parse_events`` without building Event objects. ``orjson_payload``: decoded by orjson (JSON types only,
    no NaN, no lone surrogates), so properties may be serialized by orjson as well."""
    now = whole_seconds(now)
    errors = Collector()
    if not isinstance(payload, dict):
        errors.add(None, "body", 'must be a JSON object: one event or {"batch": [...]}')
        raise EventValidationError(errors.errors)

    items: list[object]
    batch_sent_at: datetime | None = None
    if "batch" in payload:
        for key in payload:
            if key not in _ENVELOPE_FIELDS:
                errors.add(None, str(key), "unknown field")
        if "sent_at" in payload:
            batch_sent_at = parse_moment(payload["sent_at"], None, "sent_at", errors)
        batch = payload["batch"]
        if not isinstance(batch, list):
            errors.add(None, "batch", "must be an array of events")
            raise EventValidationError(errors.errors)
        if not 1 <= len(batch) <= MAX_BATCH:
            errors.add(None, "batch", f"must hold 1 to {MAX_BATCH} events, got {len(batch)}")
            raise EventValidationError(errors.errors)
        items = batch
    else:
        items = [payload]

    try:
        oldest: datetime | None = now - timedelta(days=retention_days)
    except OverflowError:
        oldest = None  # the first event that needs the limit fails the same way
    now_seconds = int(now.timestamp())
    dump = _ORJSON_DUMP if orjson_payload else _serialize_bytes
    posted = Posted(client_id, now_seconds)
    ids: list[bytes] = []
    accounts, organizations, names = posted.accounts, posted.organizations, posted.names
    timestamps, properties_texts = posted.timestamps, posted.properties
    objects: list[dict[str, Any]] = []
    posted.objects = objects
    event_fields = _EVENT_FIELDS
    error_list = errors.errors
    good_names = _GOOD_NAMES
    fromhex = bytes.fromhex
    # Runs for every posted event: the common case (string fields in ASCII, no timestamps) takes the shortest
    # way through each check; the errors, and their order, are those of the plain checks.
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.add(index, "event", "must be a JSON object")
            continue
        before = len(error_list)
        if not event_fields.issuperset(item):
            for key in item:
                if key not in event_fields:
                    errors.add(index, str(key), "unknown field")

        raw_id = item.get("event_id", MISSING)
        event_id: bytes | None = None
        if raw_id is MISSING:
            event_id = uuid4_bytes()
        else:
            if type(raw_id) is str and len(raw_id) == 36:  # the canonical form, inline: see uuid_bytes
                with contextlib.suppress(ValueError):
                    event_id = fromhex(raw_id.replace("-", ""))
                    if len(event_id) != 16:
                        event_id = None
            if event_id is None:
                event_id = uuid_bytes(raw_id)
                if event_id is None:
                    errors.add(index, "event_id", "must be a UUID string")

        name = item.get("name", MISSING)
        if name is MISSING:
            errors.add(index, "name", "is required")
        elif not (type(name) is str and name in good_names) and not valid_name(name):
            errors.add(index, "name", f"must be 1 to {MAX_NAME_LENGTH} characters of letters, digits and _ . : -")

        account = default_account
        if "account" in item:
            account = item["account"]
            if not (type(account) is str and 0 < len(account) <= MAX_IDENTIFIER_LENGTH and account.isascii()):
                account = _identifier(account, index, "account", errors, required=True)
        elif default_account is None:
            errors.add(index, "account", "is required when the token does not identify a user")

        organization = ""
        if "organization" in item:
            organization = item["organization"]
            if not (type(organization) is str and len(organization) <= MAX_IDENTIFIER_LENGTH
                    and organization.isascii()):
                organization = _identifier(organization, index, "organization", errors, required=False)

        properties: dict[str, Any] = _EMPTY
        text = b"{}"
        if "properties" in item:
            raw_properties = item["properties"]
            if not isinstance(raw_properties, dict):
                errors.add(index, "properties", "must be a JSON object")
            else:
                serialized = dump(raw_properties)
                if serialized is None:
                    errors.add(index, "properties", "must be JSON with valid Unicode strings")
                elif len(serialized) > MAX_PROPERTIES_BYTES:
                    errors.add(index, "properties", f"must serialize to at most {MAX_PROPERTIES_BYTES} bytes")
                else:
                    properties, text = raw_properties, serialized

        seconds = now_seconds
        if batch_sent_at is not None or "timestamp" in item or "sent_at" in item:
            seconds = event_seconds(item.get("timestamp", MISSING), item.get("sent_at", MISSING), batch_sent_at,
                                    now, oldest, retention_days, index, errors)
        elif oldest is None:
            _ = now - timedelta(days=retention_days)  # raises OverflowError, as the plain check does

        if len(error_list) > before:
            continue
        # No errors: event_id, name and account are set (a bytes, a str and a str).
        ids.append(event_id)  # type: ignore[arg-type]
        accounts.append(account)  # type: ignore[arg-type]
        organizations.append(organization)
        names.append(name)
        timestamps.append(seconds)
        properties_texts.append(text)
        objects.append(properties)
    if error_list:
        raise EventValidationError(error_list)
    posted.ids = b"".join(ids)
    return posted


_EMPTY: dict[str, Any] = {}


def event_seconds(raw_timestamp: object, raw_sent_at: object, batch_sent_at: datetime | None, now: datetime,
                  oldest: datetime | None, retention_days: int, index: int, errors: Collector) -> int:
    """The stored timestamp (unix seconds) of the ``index``-th event, from its posted ``timestamp`` and
    ``sent_at`` (``MISSING`` when absent) and the batch's ``sent_at``; problems go to ``errors``.

    ``now`` is whole seconds; ``oldest`` is ``now`` less the retention window (None when that overflows).
    """
    seconds = int(now.timestamp())
    sent_at = batch_sent_at
    if raw_sent_at is not MISSING:
        sent_at = parse_moment(raw_sent_at, index, "sent_at", errors)
    timestamp: datetime | None = now
    if raw_timestamp is not MISSING:
        timestamp = parse_moment(raw_timestamp, index, "timestamp", errors)
    if timestamp is not None:
        if timestamp is not now or sent_at is not None:  # `now` is whole seconds, not in the future
            if sent_at is not None:
                # The client's clock is off by (sent_at - now); shift its timestamps by the same amount.
                timestamp = timestamp - (sent_at - now)
            timestamp = whole_seconds(timestamp)
            if timestamp > now + MAX_FUTURE:
                timestamp = now
        if timestamp < (oldest if oldest is not None else now - timedelta(days=retention_days)):
            errors.add(index, "timestamp", f"is older than the {retention_days}-day retention window")
        seconds = int(timestamp.timestamp())
    return seconds


class OutOfRange(Exception):
    """Properties decoded by orjson hold a float of 1e16 or more, which may have been an integer."""


def _orjson_dump(properties: dict[str, Any]) -> bytes | None:
    try:
        text = orjson.dumps(properties, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return _serialize_bytes(properties)
    if b"e+" in text:
        raise OutOfRange
    return text


_ORJSON_DUMP = _orjson_dump


def _serialize_bytes(properties: dict[str, Any]) -> bytes | None:
    text = _serialize(properties)
    return None if text is None else text.encode("utf-8")


def uuid4_bytes() -> bytes:
    value = bytearray(os.urandom(16))
    value[6] = (value[6] & 0x0F) | 0x40
    value[8] = (value[8] & 0x3F) | 0x80
    return bytes(value)


def uuid_bytes(raw: object) -> bytes | None:
    """The 16 bytes of the UUID ``raw`` names, or None: uuid.UUID(raw)'s rules, fast for the canonical form."""
    if type(raw) is str and len(raw) == 36:
        digits = raw.replace("-", "")
        if len(digits) == 32:
            try:
                value = bytes.fromhex(digits)
            except ValueError:
                value = b""
            if len(value) == 16:
                return value
    parsed = _parse_uuid(raw)
    return None if parsed is None else parsed.bytes


def _uuid_from_int(value: int) -> uuid.UUID:
    made: uuid.UUID = _UUID_NEW(uuid.UUID)
    _UUID_SET(made, "int", value)
    _UUID_SET(made, "is_safe", _UUID_UNKNOWN)
    return made


def _parse_uuid(raw: object) -> uuid.UUID | None:
    """uuid.UUID(raw) for a string of at most 64 characters, or None."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    if len(raw) == 36:
        # The canonical form: all UUID() does with it is to drop the dashes and read 32 hex digits.
        digits = raw.replace("-", "")
        if len(digits) == 32:
            try:
                return _uuid_from_int(int(digits, 16))
            except ValueError:
                pass  # not hex; UUID() below decides with its own rules
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _identifier(value: object, index: int, field_name: str, errors: Collector, *, required: bool) -> str:
    if not isinstance(value, str):
        errors.add(index, field_name, "must be a string")
        return ""
    if required and not value:
        errors.add(index, field_name, "must not be empty")
    elif len(value) > MAX_IDENTIFIER_LENGTH:
        errors.add(index, field_name, f"must be at most {MAX_IDENTIFIER_LENGTH} characters")
    elif not _encodable(value):
        errors.add(index, field_name, "must be valid Unicode")
    return value


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


def _serialize(properties: dict[str, Any]) -> str | None:
    """Compact JSON text of ``properties``, or None when it is not JSON with valid Unicode strings."""
    try:
        text = _STRICT_DICT_ENCODE(properties)
        if not text.isascii():
            text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return None
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- storage form -----------------------------------------------------------------------------------------
# Events travel from the spool to ClickHouse as the Native columns of the `events` table (analytics.blocks).


def encode_events(events: Iterable[Event]) -> bytes:
    """The spool blob of ``events``; never raises on odd strings (lone surrogates become '?')."""
    rows = list(events)
    n = len(rows)

    def seconds(moment: datetime) -> int:
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
