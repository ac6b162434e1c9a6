"""The reference validator: any decoded body, checked field by field, every problem reported.

A request body is either one event object or ``{"batch": [...], "sent_at": ...}``. Validation collects every
problem in the body before rejecting it as a whole, so a client can fix all of them in one round trip. The
fast path (``analytics.ingest.fast``) takes only bodies this accepts, with the same columns.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

import orjson

from analytics.ingest.errors import Collector, EventValidationError
from analytics.ingest.fields import MISSING, event_seconds, parse_moment, uuid4_bytes, uuid_bytes
from analytics.ingest.model import (
    GOOD_NAMES,
    MAX_BATCH,
    MAX_IDENTIFIER_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PROPERTIES_BYTES,
    PROVIDER_NAMES,
    Event,
    valid_name,
    whole_seconds,
)
from analytics.ingest.posted import NO_PROPERTIES, Posted

_EVENT_FIELDS = frozenset({"event_id", "name", "account", "organization", "timestamp", "sent_at", "properties"})
_ENVELOPE_FIELDS = frozenset({"batch", "sent_at"})
_STRICT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
RESERVED_NAME = "is the name of an event the provider records itself (sign-ins, tokens, account changes)"


class OutOfRange(Exception):
    """Properties decoded by orjson hold a float of 1e16 or more, which may have been an integer."""


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
    dump = _orjson_dump if orjson_payload else _serialize_bytes
    posted = Posted(client_id, now_seconds)
    ids: list[bytes] = []
    accounts, organizations, names = posted.accounts, posted.organizations, posted.names
    timestamps, properties_texts = posted.timestamps, posted.properties
    objects: list[dict[str, Any]] = []
    posted.objects = objects
    event_fields = _EVENT_FIELDS
    error_list = errors.errors
    good_names = GOOD_NAMES
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
        elif name in PROVIDER_NAMES:
            errors.add(index, "name", RESERVED_NAME)

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

        properties: dict[str, Any] = NO_PROPERTIES
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


def _orjson_dump(properties: dict[str, Any]) -> bytes | None:
    try:
        text = orjson.dumps(properties, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return _serialize_bytes(properties)
    if b"e+" in text:
        raise OutOfRange
    return text


def _serialize_bytes(properties: dict[str, Any]) -> bytes | None:
    """Compact JSON text of ``properties`` as UTF-8, or None when it is not JSON with valid Unicode strings."""
    try:
        text = _STRICT_ENCODER.encode(properties)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
