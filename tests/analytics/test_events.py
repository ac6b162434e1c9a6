from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.ingest.body import parse_body
from analytics.ingest.encoding import decode_events, encode_events
from analytics.ingest.errors import EventValidationError
from analytics.ingest.model import Event
from analytics.ingest.validate import parse_events

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)
GOOD_ID = "5b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d2e4f"


def parse(payload: object, *, default_account: str | None = "user-1", retention_days: int = 400) -> list[Event]:
    return parse_events(
        payload, default_account=default_account, client_id="rs-1", now=NOW, retention_days=retention_days
    )


def errors_of(payload: object, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(EventValidationError) as info:
        parse(payload, **kwargs)
    errors = info.value.errors
    assert errors, "an EventValidationError must list its errors"
    for error in errors:
        assert set(error) == {"index", "field", "message"}
        assert error["index"] is None or isinstance(error["index"], int)
        assert isinstance(error["field"], str) and isinstance(error["message"], str)
    return errors


def test_single_event_defaults() -> None:
    [event] = parse({"name": "report.viewed"})
    assert event.account == "user-1"
    assert event.organization == ""
    assert event.client_id == "rs-1"
    assert event.timestamp == NOW and event.received_at == NOW
    assert event.properties == {}
    assert event.source == "api"
    assert event.event_id.version == 4


def test_full_event() -> None:
    [event] = parse(
        {
            "event_id": GOOD_ID,
            "name": "billing:invoice.paid-2",
            "account": "user-9",
            "organization": "org-3",
            "timestamp": "2026-03-15T11:00:00.750+01:00",
            "properties": {"amount": 12.5, "tags": ["a"], "nested": {"x": None}},
        }
    )
    assert event.event_id == uuid.UUID(GOOD_ID)
    assert event.account == "user-9"
    assert event.organization == "org-3"
    assert event.timestamp == datetime(2026, 3, 15, 10, 0, 0, tzinfo=UTC)
    assert event.properties["nested"] == {"x": None}


def test_unix_seconds_and_naive_iso_are_utc() -> None:
    [a] = parse({"name": "x", "timestamp": NOW.timestamp() - 60.9})
    [b] = parse({"name": "x", "timestamp": "2026-03-15T11:58:59.999"})
    assert a.timestamp == b.timestamp == datetime(2026, 3, 15, 11, 58, 59, tzinfo=UTC)
    [c] = parse({"name": "x", "timestamp": "2026-03-15T11:59:00Z"})
    assert c.timestamp == datetime(2026, 3, 15, 11, 59, tzinfo=UTC)


def test_clock_skew_is_corrected_per_event_and_per_batch() -> None:
    # The client's clock runs 10 minutes fast.
    [event] = parse({"name": "x", "timestamp": "2026-03-15T12:05:00Z", "sent_at": "2026-03-15T12:10:00Z"})
    assert event.timestamp == datetime(2026, 3, 15, 11, 55, tzinfo=UTC)
    events = parse(
        {
            "sent_at": "2026-03-15T11:00:00Z",  # an hour slow
            "batch": [
                {"name": "x", "timestamp": "2026-03-15T10:30:00Z"},
                {"name": "y", "timestamp": "2026-03-15T10:30:00Z", "sent_at": "2026-03-15T12:00:00Z"},
            ],
        }
    )
    assert [e.timestamp for e in events] == [
        datetime(2026, 3, 15, 11, 30, tzinfo=UTC),
        datetime(2026, 3, 15, 10, 30, tzinfo=UTC),
    ]


def test_future_timestamps_are_clamped_to_now() -> None:
    [soon] = parse({"name": "x", "timestamp": (NOW + timedelta(minutes=59)).isoformat()})
    assert soon.timestamp == NOW + timedelta(minutes=59)
    [late] = parse({"name": "x", "timestamp": (NOW + timedelta(hours=2)).isoformat()})
    assert late.timestamp == NOW


def test_batch_of_1000_is_accepted() -> None:
    events = parse({"batch": [{"name": "x"} for _ in range(1000)]})
    assert len(events) == 1000
    assert len({e.event_id for e in events}) == 1000


def test_client_credentials_events_must_name_their_account() -> None:
    [event] = parse({"name": "x", "account": "user-7"}, default_account=None)
    assert event.account == "user-7"
    errors = errors_of({"name": "x"}, default_account=None)
    assert errors == [{"index": 0, "field": "account", "message": errors[0]["message"]}]


def test_all_errors_in_a_batch_are_reported_and_the_batch_rejected() -> None:
    errors = errors_of(
        {"batch": [{"name": "ok"}, {"name": ""}, {"nam": "typo"}, {"name": "x", "timestamp": "yesterday"}]}
    )
    assert {(e["index"], e["field"]) for e in errors} == {
        (1, "name"),
        (2, "nam"),
        (2, "name"),
        (3, "timestamp"),
    }


BAD_ENVELOPES: list[tuple[str, object, str]] = [
    ("null", None, "body"),
    ("array", [{"name": "x"}], "body"),
    ("string", "event", "body"),
    ("number", 42, "body"),
    ("batch null", {"batch": None}, "batch"),
    ("batch object", {"batch": {"name": "x"}}, "batch"),
    ("batch string", {"batch": "x"}, "batch"),
    ("empty batch", {"batch": []}, "batch"),
    ("1001 events", {"batch": [{"name": "x"}] * 1001}, "batch"),
    ("unknown envelope field", {"batch": [{"name": "x"}], "extra": 1}, "extra"),
    ("bad batch sent_at", {"batch": [{"name": "x"}], "sent_at": "nope"}, "sent_at"),
]


@pytest.mark.parametrize(("case", "payload", "field"), BAD_ENVELOPES, ids=[c[0] for c in BAD_ENVELOPES])
def test_bad_envelopes(case: str, payload: object, field: str) -> None:
    errors = errors_of(payload)
    assert (None, field) in {(e["index"], e["field"]) for e in errors}


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"k": value}
    return value


HUGE = "x" * 1_000_000
BAD_EVENTS: list[tuple[str, object, str]] = [
    ("event null", None, "event"),
    ("event array", [[{"name": "x"}]], "event"),
    ("event string", "x", "event"),
    ("name missing", {}, "name"),
    ("name null", {"name": None}, "name"),
    ("name number", {"name": 1}, "name"),
    ("name array", {"name": ["x"]}, "name"),
    ("name empty", {"name": ""}, "name"),
    ("name space", {"name": "a b"}, "name"),
    ("name newline", {"name": "a\n"}, "name"),
    ("name slash", {"name": "a/b"}, "name"),
    ("name unicode", {"name": "café"}, "name"),
    ("name too long", {"name": "x" * 129}, "name"),
    ("name huge", {"name": HUGE}, "name"),
    ("unknown field", {"name": "x", "user": "u"}, "user"),
    ("source not settable", {"name": "x", "source": "idp"}, "source"),
    ("client_id not settable", {"name": "x", "client_id": "other"}, "client_id"),
    ("event_id number", {"name": "x", "event_id": 5}, "event_id"),
    ("event_id null", {"name": "x", "event_id": None}, "event_id"),
    ("event_id bad", {"name": "x", "event_id": "not-a-uuid"}, "event_id"),
    ("event_id short", {"name": "x", "event_id": GOOD_ID[:-1]}, "event_id"),
    ("event_id huge", {"name": "x", "event_id": HUGE}, "event_id"),
    ("event_id object", {"name": "x", "event_id": {"id": GOOD_ID}}, "event_id"),
    ("account null", {"name": "x", "account": None}, "account"),
    ("account number", {"name": "x", "account": 7}, "account"),
    ("account empty", {"name": "x", "account": ""}, "account"),
    ("account huge", {"name": "x", "account": HUGE}, "account"),
    ("account lone surrogate", {"name": "x", "account": "\ud800"}, "account"),
    ("organization null", {"name": "x", "organization": None}, "organization"),
    ("organization array", {"name": "x", "organization": ["o"]}, "organization"),
    ("organization huge", {"name": "x", "organization": HUGE}, "organization"),
    ("timestamp null", {"name": "x", "timestamp": None}, "timestamp"),
    ("timestamp bool", {"name": "x", "timestamp": True}, "timestamp"),
    ("timestamp object", {"name": "x", "timestamp": {}}, "timestamp"),
    ("timestamp array", {"name": "x", "timestamp": [2026, 3, 1]}, "timestamp"),
    ("timestamp words", {"name": "x", "timestamp": "last tuesday"}, "timestamp"),
    ("timestamp bad month", {"name": "x", "timestamp": "2026-13-01T00:00:00Z"}, "timestamp"),
    ("timestamp huge string", {"name": "x", "timestamp": HUGE}, "timestamp"),
    ("timestamp negative", {"name": "x", "timestamp": -1}, "timestamp"),
    ("timestamp before 1970", {"name": "x", "timestamp": "1969-12-31T23:59:59Z"}, "timestamp"),
    ("timestamp year 9999", {"name": "x", "timestamp": "9999-12-31T23:59:59-23:59"}, "timestamp"),
    ("timestamp huge number", {"name": "x", "timestamp": 10**30}, "timestamp"),
    ("timestamp huge float", {"name": "x", "timestamp": 1e300}, "timestamp"),
    ("timestamp nan", {"name": "x", "timestamp": float("nan")}, "timestamp"),
    ("timestamp infinity", {"name": "x", "timestamp": float("inf")}, "timestamp"),
    ("timestamp too old", {"name": "x", "timestamp": "2025-01-01T00:00:00Z"}, "timestamp"),
    ("sent_at null", {"name": "x", "sent_at": None}, "sent_at"),
    ("sent_at words", {"name": "x", "sent_at": "now"}, "sent_at"),
    ("properties null", {"name": "x", "properties": None}, "properties"),
    ("properties array", {"name": "x", "properties": [1, 2]}, "properties"),
    ("properties string", {"name": "x", "properties": "{}"}, "properties"),
    ("properties too big", {"name": "x", "properties": {"k": "v" * 8200}}, "properties"),
    ("properties huge", {"name": "x", "properties": {"k": HUGE}}, "properties"),
    ("properties nan", {"name": "x", "properties": {"k": float("nan")}}, "properties"),
    ("properties set", {"name": "x", "properties": {"k": {1, 2}}}, "properties"),
    ("properties surrogate", {"name": "x", "properties": {"k": "\udfff"}}, "properties"),
    ("properties deep", {"name": "x", "properties": _deep(100_000)}, "properties"),
]


@pytest.mark.parametrize(("case", "event", "field"), BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS])
def test_bad_events_single_and_in_batch(case: str, event: object, field: str) -> None:
    if isinstance(event, dict):
        single = errors_of(event)
        assert (0, field) in {(e["index"], e["field"]) for e in single}
    in_batch = errors_of({"batch": [{"name": "fine"}, event]})
    assert (1, field) in {(e["index"], e["field"]) for e in in_batch}
    assert all(e["index"] == 1 for e in in_batch)


def test_properties_at_the_size_limit_are_accepted() -> None:
    value = "v" * (8 * 1024 - len('{"k":""}'))
    [event] = parse({"name": "x", "properties": {"k": value}})
    assert len(event.properties_json().encode()) == 8 * 1024


def test_retention_window_boundary() -> None:
    [event] = parse({"name": "x", "timestamp": (NOW - timedelta(days=30)).isoformat()}, retention_days=30)
    assert event.timestamp == NOW - timedelta(days=30)
    errors_of({"name": "x", "timestamp": (NOW - timedelta(days=30, seconds=1)).isoformat()}, retention_days=30)


def test_for_idp() -> None:
    event = Event.for_idp("token.issued", "", client_id="svc", now=datetime(2026, 1, 1, 0, 0, 0, 900_000))
    assert event.source == "idp"
    assert event.account == ""
    assert event.timestamp == event.received_at == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        Event.for_idp("bad name", "user")


def test_encoding_round_trips() -> None:
    events = parse(
        {
            "batch": [
                {"name": "x", "account": "a'\\\n\"é😀", "properties": {"k": "\u2028\n", "n": [1, 2.5, None]}},
                {"name": "y", "timestamp": NOW.timestamp() - 86_400},
            ]
        }
    )
    assert decode_events([encode_events(events)]) == events
    assert decode_events([encode_events(events[:1]), b"", encode_events(events[1:])]) == events


FAST_PATH_PAYLOADS: list[object] = [
    {"name": "report.viewed"},
    {"event_id": GOOD_ID.upper(), "name": "a", "account": "ü-user", "organization": "örg",
     "properties": {"z": [1, {"b": None, "a": True}], "a": "é😀\u2028\n\t\x01", "m": -9223372036854775808}},
    {"batch": [{"event_id": f"{{{GOOD_ID}}}", "name": "x", "timestamp": "2026-03-15T11:00:00+01:00"},
               {"event_id": f"urn:uuid:{GOOD_ID}", "name": "y", "timestamp": 1773570000, "sent_at": 1773576000}],
     "sent_at": "2026-03-15T12:00:30Z"},
    {"event_id": GOOD_ID.replace("-", ""), "name": "y", "properties": {}},
]


@pytest.mark.parametrize("payload", FAST_PATH_PAYLOADS)
def test_a_posted_body_encodes_as_its_events_do(payload: object) -> None:
    """parse_body (columns) and parse_events (objects) store the same bytes (posted as compact JSON with sorted
    keys, the text a batch's properties are stored as is the one parse_events makes)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    posted = parse_body(body, default_account="user-1", client_id="rs-1", now=NOW, retention_days=400)
    events = parse(payload)
    assert isinstance(payload, dict)
    if any("event_id" not in e for e in payload.get("batch", [payload])):
        events = [dataclasses.replace(e, event_id=g.event_id) for e, g in zip(events, posted.events(), strict=True)]
    assert posted.events() == events
    assert posted.encode() == encode_events(events)
    assert decode_events([posted.encode()]) == events


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "x", "properties": {"v": NaN}}', "properties"),
        (b'{"name": "x", "properties": {"v": "\\ud800"}}', "properties"),
        (b'{"name": "x", "account": "\\udfff"}', "account"),
    ],
)
def test_bodies_orjson_refuses_get_the_plain_checks(body: bytes, field: str) -> None:
    with pytest.raises(EventValidationError) as info:
        parse_body(body, default_account="user-1", client_id="rs-1", now=NOW, retention_days=400)
    assert [e["field"] for e in info.value.errors] == [field]


def test_bodies_only_the_standard_library_decodes_are_accepted_alike() -> None:
    body = b'{"name": "x", "properties": {"big": 123456789012345678901234567890}}'
    [event] = parse_body(body, default_account="u", client_id="c", now=NOW, retention_days=400).events()
    assert event.properties == {"big": 123456789012345678901234567890}
    assert event.properties_json() == '{"big":123456789012345678901234567890}'
    with pytest.raises(ValueError):
        parse_body(b"{not json", default_account="u", client_id="c", now=NOW, retention_days=400)


def test_big_numbers_outside_properties_are_refused_alike() -> None:
    body = b'{"name": "x", "timestamp": 123456789012345678901234567890}'
    with pytest.raises(EventValidationError) as fast:
        parse_body(body, default_account="u", client_id="c", now=NOW, retention_days=400)
    with pytest.raises(EventValidationError) as plain:
        parse({"name": "x", "timestamp": 123456789012345678901234567890}, default_account="u")
    assert fast.value.errors == plain.value.errors


def test_floats_keep_their_value_in_properties() -> None:
    body = b'{"name": "x", "properties": {"a": 1e20, "b": 0.1, "c": -2.5e-300, "d": 18446744073709551615}}'
    [event] = parse_body(body, default_account="u", client_id="c", now=NOW, retention_days=400).events()
    assert json.loads(event.properties_json()) == {"a": 1e20, "b": 0.1, "c": -2.5e-300, "d": 18446744073709551615}
