"""A timeline cursor is exactly what ``encode_cursor`` makes: anything else is QueryError("cursor"), never
another exception (the admin API maps QueryError to 400 and anything else to 500)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from analytics.queries.accounts import MAX_SECONDS, decode_cursor, encode_cursor
from analytics.queries.errors import QueryError

EVENT_ID = "665e0624-cec3-400b-ac3e-beb69c1bb218"


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("raw", [
    "[1, 5]", f'[Infinity, "{EVENT_ID}"]', f'[-Infinity, "{EVENT_ID}"]', f'[NaN, "{EVENT_ID}"]',
    f'[1e400, "{EVENT_ID}"]', f'[1.0, "{EVENT_ID}"]', f'[true, "{EVENT_ID}"]', f'[false, "{EVENT_ID}"]',
    f'["1", "{EVENT_ID}"]', f'[-1, "{EVENT_ID}"]', f'[{MAX_SECONDS + 1}, "{EVENT_ID}"]', '[1, "nope"]',
    '[1, null]', '[1, {"a": 1}]', "[]", f'[1, "{EVENT_ID}", 2]', '{"0": 1, "1": 2}', "1", "null",
    "[" * 5000 + "]" * 5000, "\xff", "",
])
def test_anything_but_a_cursor_is_a_query_error(raw: str) -> None:
    with pytest.raises(QueryError) as refused:
        decode_cursor(_cursor(raw))
    assert refused.value.field == "cursor"


@pytest.mark.parametrize("cursor", ["%%%", "é", "a", "\x00"])
def test_text_that_is_not_base64url_is_a_query_error(cursor: str) -> None:
    with pytest.raises(QueryError):
        decode_cursor(cursor)


def test_a_made_cursor_round_trips() -> None:
    event_id = str(uuid.uuid4())
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, event_id)) == (int(moment.timestamp()), event_id)
    assert decode_cursor(_cursor(f'[0, "{EVENT_ID.upper()}"]')) == (0, EVENT_ID)
    assert decode_cursor(_cursor(f'[{MAX_SECONDS}, "{EVENT_ID}"]')) == (MAX_SECONDS, EVENT_ID)
