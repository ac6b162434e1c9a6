"""On a provider with analytics: the timeline's cursor is checked before it reaches a query, and POST /v1/events
answers RFC 6750 §3 as the admin API and UserInfo do."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from analytics.queries.accounts import encode_cursor
from tests.functional.admin.conftest import Admin, Spec, new_token
from tests.functional.conftest import Provider

BARE = 'Bearer realm="canary"'
EVENT_ID = "665e0624-cec3-400b-ac3e-beb69c1bb218"


@pytest.fixture
def admin_of_ingest(ingest: Provider, spec: Spec) -> Iterator[Admin]:
    with httpx.Client(base_url=ingest.url, timeout=30) as http:
        yield Admin(ingest, spec, new_token(ingest, admin=True, scope="admin"), http)


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CRAFTED = [
    "[1, 5]",  # the event id is not a string
    f'[Infinity, "{EVENT_ID}"]', f'[-Infinity, "{EVENT_ID}"]', f'[NaN, "{EVENT_ID}"]', f'[1e400, "{EVENT_ID}"]',
    f'[1.5, "{EVENT_ID}"]', f'[true, "{EVENT_ID}"]', f'["1", "{EVENT_ID}"]', f'[null, "{EVENT_ID}"]',
    f'[-1, "{EVENT_ID}"]', f'[4294967296, "{EVENT_ID}"]', f'[{10**30}, "{EVENT_ID}"]',
    '[1, "not-a-uuid"]', '[1, ["nested"]]', "[1]", f'[1, "{EVENT_ID}", 3]', "{}", '{"a": 1}', "7", '"x"', "null",
]


def test_crafted_timeline_cursors_are_400(admin_of_ingest: Admin) -> None:
    sub = admin_of_ingest.account()["id"]
    for raw in CRAFTED:
        body = admin_of_ingest.error("GET", f"/accounts/{sub}/timeline", 400, "invalid_request", "cursor",
                                     params={"cursor": cursor_of(raw)})
        assert body["error_description"] == "cursor: malformed cursor", raw[:80]
    for seconds in (0, 2**32 - 1):
        page = admin_of_ingest.ok("GET", f"/accounts/{sub}/timeline",
                                  params={"cursor": cursor_of(json.dumps([seconds, EVENT_ID]))})
        assert page["items"] == []
    made = encode_cursor(datetime.now(UTC), str(uuid.uuid4()))
    assert admin_of_ingest.ok("GET", f"/accounts/{sub}/timeline", params={"cursor": made})["items"] == []


def _post(ingest: Provider, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{ingest.url}/v1/events", json={"name": "report.viewed"}, headers=headers)


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwdw==", "Token abc", "Negotiate"])
def test_events_without_a_bearer_token_get_the_bare_challenge(ingest: Provider, authorization: str | None) -> None:
    response = _post(ingest, {} if authorization is None else {"Authorization": authorization})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == BARE
    assert response.json()["error"] not in {"invalid_token", "invalid_request", "insufficient_scope"}


def test_events_with_an_empty_or_bad_bearer_token(ingest: Provider) -> None:
    empty = _post(ingest, {"Authorization": "Bearer"})
    assert empty.status_code == 400 and empty.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in empty.headers["WWW-Authenticate"]
    bad = _post(ingest, {"Authorization": "Bearer x.y"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
