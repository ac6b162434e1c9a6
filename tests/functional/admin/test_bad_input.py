"""Malformed requests to the admin API: 4xx with the error shape, never a 500."""

from __future__ import annotations

import pytest

from tests.functional.admin.conftest import Admin
from tests.functional.conftest import Provider


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe", b'{"email": NaN}', b"[" * 100000,
                                     b'{"email": "a@b.c", "email": "d@e.f"}', b'{"email": Infinity}'])
def test_bodies_that_are_not_json_objects(admin: Admin, content: bytes) -> None:
    body = admin.error("POST", "/accounts", 400, "invalid_request", content=content,
                       headers={"Content-Type": "application/json"})
    assert body["field"] in ("body", "email")


def test_body_too_large_is_413(admin: Admin, provider: Provider) -> None:
    big = b'{"email": "' + b"a" * (provider.settings.max_body_bytes + 10) + b'"}'
    admin.error("POST", "/accounts", 413, "invalid_request", "body", content=big)


def test_unknown_paths_and_methods_answer_json(admin: Admin) -> None:
    admin.error("GET", "/admin/api/v2/accounts", 404, "not_found")
    admin.error("GET", "/nothing-here", 404, "not_found")
    admin.error("GET", "/accounts/", 404, "not_found")
    response = admin.request("PUT", "/accounts")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"


def test_wrong_content_type_is_still_read_as_json(admin: Admin) -> None:
    created = admin.ok("POST", "/organizations", 201, content=b'{"slug": "ct-%d"}' % id(admin),
                       headers={"Content-Type": "text/plain"})
    assert created["slug"].startswith("ct-")
