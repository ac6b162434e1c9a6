"""The batch decoder against the full validator: it takes only bodies the validator accepts, with the same
columns, and hands every other body to the validator."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics import provider_events
from analytics.ingest.body import parse_body, validate_body
from analytics.ingest.errors import EventValidationError
from analytics.ingest.fast import decode_batch
from analytics.ingest.model import MAX_PROPERTIES_BYTES
from analytics.ingest.posted import Posted

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)
ID = "5b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d2e4f"

# A JSON text to splice into a body: the values an event's fields may take, good and bad.
IDS = [json.dumps(ID), json.dumps(ID.upper()), json.dumps(ID.replace("-", "")), json.dumps("{" + ID + "}"),
       json.dumps("urn:uuid:" + ID), json.dumps("-" + ID.replace("-", "", 1)), json.dumps(ID[:-1] + "g"),
       json.dumps(ID[:8] + " " + ID[9:]), json.dumps(ID + "0"), json.dumps(ID[:-1]), "null", "42",
       json.dumps("5b0e2f0e8-a4d-4d3a-9a7e-0f8b3c1d2e4f"), json.dumps(ID[:35] + "\u0660"),
       json.dumps(ID[1:]), json.dumps(ID[:32] + " 2e "), json.dumps(ID[:34] + "  "), json.dumps(ID[:35] + "-")]
NAMES = ['"report.viewed"', '"search"', '"a:b-c_d"', '""', json.dumps("n" * 128), json.dumps("n" * 129),
         '"with space"', '"caf\\u00e9"', "null", "7", '"\\ud800"', '["search"]', '"signin.succeeded"',
         '"token.issued"']
ACCOUNTS = ['"user-1"', '"user-2"', '"caf\u00e9"', '""', json.dumps("a" * 256), json.dumps("a" * 257), "null",
            "3", '"\\udc00"', '"\\u00e9t\\u00e9"']
ORGANIZATIONS = ['"acme"', '""', json.dumps("o" * 256), json.dumps("o" * 257), "null", "false", '"\\ud83d"']
PROPERTIES = ['{}', '{"path":"/reports/1","ms":12}', '{"b": 1, "a": [1, 2.5, null, true]}', '{"x":NaN}',
              '{"x":1e999}', '{"x":-Infinity}', '{"big":123456789012345678901234567890}', '{"f":1e20}',
              '{"s":"\\ud800"}', '{"s":"\\ud83d\\ude00"}', '[]', 'null', '"text"', '{"k":{"k":{"k":[]}}}',
              '{ "spaced" : "out" }', '{"a":1,"a":2}',
              json.dumps({"pad": "x" * (MAX_PROPERTIES_BYTES - 10)}),
              json.dumps({"pad": "x" * (MAX_PROPERTIES_BYTES - 11)}),
              json.dumps({"pad": "é" * (MAX_PROPERTIES_BYTES // 4)}, ensure_ascii=False),
              '[' * 600 + ']' * 600, '{"deep":' + '[' * 1100 + ']' * 1100 + '}',
              '{"n":1' + '0' * 320 + '.0}', '{"n":1' + '0' * 320 + '}', '{"n":1' + '0' * 250 + '.5e50}',
              '{"n":1e308,"m":-1E+309}', '{"n":2.5e-999}', '{"s":"1e999 in text"}', '{"s":"caf\u00e9 \u2603"}']
MOMENTS = ['"2026-03-15T11:00:00Z"', '"2026-03-15T11:00:00.5+02:00"', '"2026-03-15 11:00:00"', '1773572400',
           '1773572400.75', '"2026-03-15T14:00:00Z"', '"2020-01-01T00:00:00Z"', '"yesterday"', 'true', 'null',
           '1e30', '-5', '123456789012345678901234567890', '"2026-03-15T12:00:30Z"']
EXTRA = ['"source":"api"', '"client_id":"x"']


def _event(rng: random.Random, clean: bool) -> str:
    """One event's JSON text; ``clean`` keeps to values both paths accept (mostly)."""
    def pick(values: list[str], good: int) -> str:
        return values[rng.randrange(good if clean else len(values))]

    fields = [f'"name":{pick(NAMES, 3)}']
    if rng.random() < 0.9:
        fields.append(f'"event_id":{pick(IDS, 2)}')
    if rng.random() < 0.8:
        fields.append(f'"account":{pick(ACCOUNTS, 3)}')
    if rng.random() < 0.4:
        fields.append(f'"organization":{pick(ORGANIZATIONS, 2)}')
    if rng.random() < 0.7:
        fields.append(f'"properties":{pick(PROPERTIES, 3)}')
    if rng.random() < (0.1 if clean else 0.3):
        fields.append(f'"timestamp":{pick(MOMENTS, 2)}')
    if rng.random() < (0.05 if clean else 0.2):
        fields.append(f'"sent_at":{pick(MOMENTS, 2)}')
    if not clean and rng.random() < 0.05:
        fields.append(rng.choice(EXTRA))
    rng.shuffle(fields)
    return "{" + ",".join(fields) + "}"


def _body(rng: random.Random) -> bytes:
    clean = rng.random() < 0.5
    size = rng.choice([1, 2, 3, 10, 50]) if rng.random() < 0.97 else rng.choice([0, 1000, 1001])
    events = [_event(rng, clean or rng.random() < 0.9) for _ in range(size)]
    if rng.random() < 0.1 and size:
        text = events[0]  # a single event, not a batch
    else:
        text = '{"batch":[' + ",".join(events) + "]"
        if rng.random() < 0.1:
            text += f',"sent_at":{rng.choice(MOMENTS)}'
        if rng.random() < 0.02:
            text += ',"extra":1'
        text += "}"
    body = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.03:
        body = body.replace(b"/reports/1", b"/reports/\xff", 1)
    return body


def _parse(parse: Any, body: bytes, default_account: str | None) -> Posted | Exception:
    try:
        return parse(body, default_account=default_account, client_id="rs-1", now=NOW, retention_days=400)
    except (ValueError, OverflowError) as exc:  # EventValidationError is a ValueError
        return exc


def _same_columns(fast: Posted, slow: Posted, body: bytes) -> None:
    assert fast.client_id == slow.client_id and fast.received_at == slow.received_at
    assert fast.accounts == slow.accounts
    assert fast.organizations == slow.organizations
    assert fast.names == slow.names
    assert fast.timestamps == slow.timestamps
    assert len(fast.ids) == len(slow.ids) == 16 * len(fast)
    payload = json.loads(body)
    for index, event in enumerate(payload["batch"]):
        if "timestamp" not in event:  # stamped on receipt, whatever sent_at says of the client's clock
            assert fast.timestamps[index] == fast.received_at
        mine, theirs = fast.ids[16 * index:16 * index + 16], slow.ids[16 * index:16 * index + 16]
        if "event_id" in event:
            assert mine == theirs
        else:
            assert uuid.UUID(bytes=mine).version == 4 and uuid.UUID(bytes=mine).variant == uuid.RFC_4122
    # The stored properties are the same JSON value (the batch decoder keeps the posted text).
    for mine, theirs in zip(fast.properties, slow.properties, strict=True):
        assert len(bytes(mine)) <= MAX_PROPERTIES_BYTES
        assert json.loads(bytes(mine)) == json.loads(bytes(theirs))
    assert [e.properties for e in fast.events()] == [e.properties for e in slow.events()]
    assert fast.encode()[:8] == slow.encode()[:8]  # magic and row count


@pytest.mark.parametrize("seed", range(4))
def test_the_batch_decoder_takes_only_what_validation_accepts(seed: int) -> None:
    rng = random.Random(seed)
    taken = declined_valid = rejected = 0
    for _ in range(2500):
        body = _body(rng)
        default_account = "user-1" if rng.random() < 0.5 else None
        fast = decode_batch(body, default_account=default_account, client_id="rs-1", now=NOW, retention_days=400)
        slow = _parse(validate_body, body, default_account)
        whole = _parse(parse_body, body, default_account)
        if fast is None:
            # Declined: parse_body answers as the validator does, same errors included.
            assert type(whole) is type(slow)
            if isinstance(slow, EventValidationError):
                assert isinstance(whole, EventValidationError) and whole.errors == slow.errors
                rejected += 1
            elif isinstance(slow, Posted):
                declined_valid += 1
            continue
        assert isinstance(slow, Posted), f"the batch decoder took a body the validator refuses: {body[:300]!r}"
        _same_columns(fast, slow, body)
        taken += 1
    # Every way through is exercised.
    assert taken > 500 and rejected > 500 and declined_valid > 10, (taken, rejected, declined_valid)


def test_a_plain_batch_takes_the_batch_decoder() -> None:
    events = [{"event_id": str(uuid.uuid4()), "account": f"user-{i % 3}", "name": "report.viewed",
               "properties": {"path": f"/r/{i}", "ms": i}} for i in range(100)]
    body = json.dumps({"batch": events}).encode()
    posted = decode_batch(body, default_account=None, client_id="rs-1", now=NOW, retention_days=400)
    assert posted is not None and len(posted) == 100
    assert posted.ids == b"".join(uuid.UUID(e["event_id"]).bytes for e in events)  # type: ignore[arg-type]
    assert [bytes(p) for p in posted.properties] == [json.dumps(e["properties"]).encode() for e in events]
    assert posted.timestamps == [int(NOW.timestamp())] * 100


def test_events_without_ids_get_distinct_version_4_ids() -> None:
    body = json.dumps({"batch": [{"name": "x"}] * 1000}).encode()
    posted = decode_batch(body, default_account="user-1", client_id="rs-1", now=NOW, retention_days=400)
    assert posted is not None
    ids = [uuid.UUID(bytes=posted.ids[i:i + 16]) for i in range(0, 16000, 16)]
    assert len(set(ids)) == 1000
    assert {(u.version, u.variant) for u in ids} == {(4, uuid.RFC_4122)}


def test_sent_at_shifts_only_the_timestamps_the_client_gave() -> None:
    """The client's clock is two days fast: its timestamp moves back by two days; an event without one is
    stamped on receipt, on both paths."""
    ahead = (NOW + timedelta(days=2)).isoformat()
    given = (NOW + timedelta(days=2) - timedelta(hours=3)).isoformat()
    now, shifted = int(NOW.timestamp()), int((NOW - timedelta(hours=3)).timestamp())
    for events, expected in (([{"name": "x", "account": "a"}], [now]),
                             ([{"name": "x", "account": "a"}, {"name": "y", "account": "a", "timestamp": given}],
                              [now, shifted])):
        body = json.dumps({"batch": events, "sent_at": ahead}).encode()
        fast = decode_batch(body, default_account=None, client_id="rs-1", now=NOW, retention_days=400)
        slow = validate_body(body, default_account=None, client_id="rs-1", now=NOW, retention_days=400)
        assert fast is not None and fast.timestamps == slow.timestamps == expected
    one = json.dumps({"name": "x", "account": "a", "sent_at": ahead}).encode()
    assert parse_body(one, default_account=None, client_id="rs-1", now=NOW, retention_days=400).timestamps == [now]


@pytest.mark.parametrize("name", sorted(provider_events.ALL))
def test_the_providers_own_event_names_are_refused_on_both_paths(name: str) -> None:
    body = json.dumps({"batch": [{"name": "report.viewed", "account": "a"}, {"name": name, "account": "a"}]}).encode()
    assert decode_batch(body, default_account=None, client_id="rs-1", now=NOW, retention_days=400) is None
    for one in (body, json.dumps({"name": name, "account": "a"}).encode()):
        with pytest.raises(EventValidationError) as refused:
            parse_body(one, default_account=None, client_id="rs-1", now=NOW, retention_days=400)
        [error] = refused.value.errors
        assert (error["index"], error["field"]) == (1 if one is body else 0, "name")
        assert "the provider records itself" in error["message"]


@pytest.mark.parametrize("body", [
    b'{"batch":[{"name":"x","properties":{"v":1e999}}]}',
    b'{"batch":[{"name":"x","properties":{"v":"\\ud800"}}]}',
    b'{"batch":[{"name":"x","properties":{"v":"\xff"}}]}',
    b'{"batch":[{"name":"x","properties":[1]}]}',
    # 37 and 35 characters: together they look like two ids in a row.
    b'{"batch":[{"name":"x","event_id":"5b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d2e4f0"},'
    b'{"name":"y","event_id":"b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d2e4f"}]}',
    # 33 and 31 hex digits (3 and 5 dashes): 64 digits in all.
    b'{"batch":[{"name":"x","event_id":"5b0e2f0e08a4d-4d3a-9a7e-0f8b3c1d2e4f"},'
    b'{"name":"y","event_id":"-b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d2e4f"}]}',
    # Each with a fifth dash in place of a digit: 62 digits in all.
    b'{"batch":[{"name":"x","event_id":"5b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d2e4-"},'
    b'{"name":"y","event_id":"5b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d2e4-"}]}',
    # 30 hex digits and two spaces, which bytes.fromhex skips.
    b'{"batch":[{"name":"x","event_id":"5b0e2f0e-8a4d-4d3a-9a7e-0f8b3c1d 2e "}]}',
    b'{"batch":[{"name":"x","account":""}]}',
])
def test_bodies_the_batch_decoder_declines(body: bytes) -> None:
    assert decode_batch(body, default_account="u", client_id="c", now=NOW, retention_days=400) is None
    with pytest.raises(ValueError):  # and the validator refuses them
        parse_body(body, default_account="u", client_id="c", now=NOW, retention_days=400)
