"""Request bodies of POST /v1/events turned into spool-ready columns: the fast path first, the reference
validator for every body the fast path declines.

Which way a body took shows only in the time it took (see ``analytics.ingest.fast``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson

from analytics.ingest.fast import decode_batch
from analytics.ingest.posted import Posted
from analytics.ingest.validate import OutOfRange, validate


def parse_body(
    body: bytes,
    *,
    default_account: str | None,
    client_id: str,
    now: datetime,
    retention_days: int,
) -> Posted:
    """Decode and validate a request body: ValueError when it is not JSON, EventValidationError listing every
    problem when it is not a valid event or batch."""
    posted = decode_batch(body, default_account=default_account, client_id=client_id, now=now,
                          retention_days=retention_days)
    if posted is not None:
        return posted
    return validate_body(body, default_account=default_account, client_id=client_id, now=now,
                         retention_days=retention_days)


def validate_body(
    body: bytes,
    *,
    default_account: str | None,
    client_id: str,
    now: datetime,
    retention_days: int,
) -> Posted:
    """``parse_body`` without the fast path: every body through ``validate``."""
    payload, native = loads(body)
    try:
        return validate(payload, default_account=default_account, client_id=client_id, now=now,
                        retention_days=retention_days, orjson_payload=native)
    except OutOfRange:
        # orjson reads integers beyond 64 bits as floats (which print as 1.2e+19 and up): such bodies are
        # decoded again by the standard library, which keeps them exact.
        return validate(json.loads(body), default_account=default_account, client_id=client_id, now=now,
                        retention_days=retention_days)


def loads(body: bytes) -> tuple[Any, bool]:
    """A request body decoded as JSON, and whether orjson decoded it (ValueError when it is not JSON).

    orjson is several times faster than the standard library; what it refuses and the standard library
    accepts (NaN, infinities, lone surrogates, very deep nesting) is decoded the old way, so exactly the same
    bodies are accepted and validation reports the same problems.
    """
    try:
        return orjson.loads(body), True
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body), False
    except RecursionError as exc:
        raise ValueError("too deeply nested") from exc
