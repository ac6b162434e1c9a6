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
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD, POST"


def test_wrong_content_type_is_still_read_as_json(admin: Admin) -> None:
    created = admin.ok("POST", "/organizations", 201, content=b'{"slug": "ct-%d"}' % id(admin),
                       headers={"Content-Type": "text/plain"})
    assert created["slug"].startswith("ct-")


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/accounts", '{"email": "s\\ud800@example.com"}', "email"),
    ("POST", "/accounts", '{"email": "s@example.com", "name": "Ann \\ud800"}', "name"),
    ("POST", "/clients", '{"name": "x", "redirect_uris": ["https://a\\ud800.com/cb"]}', "redirect_uris[0]"),
    ("POST", "/clients", '{"name": "x\\udfff"}', "name"),
    ("POST", "/organizations", '{"slug": "org-s", "name": "\\ud800"}', "name"),
    ("POST", "/alerts/rules", '{"name": "r\\ud800", "threshold_days": 7, "emails": ["a@example.com"]}', "name"),
    ("POST", "/alerts/rules", '{"name": "r", "threshold_days": 7, "emails": ["a\\ud800@example.com"]}',
     "emails[0]"),
    ("POST", "/alerts/webhooks", '{"url": "https://a\\ud800.example/x"}', "url"),
    ("POST", "/accounts", '{"email": "s@example.com", "\\ud800": 1}', "\\ud800"),
    ("POST", "/accounts", '{"email": "s@example.com", "\\ud800": 1, "\\ud800": 2}', "\\ud800"),
])
def test_lone_surrogates_are_refused(admin: Admin, method: str, path: str, body: str, field: str) -> None:
    """A lone surrogate is valid JSON but no UTF-8 text: refused before anything is stored."""
    before = admin.ok("GET", path)["total"]
    answer = admin.error(method, path, 400, "invalid_request", field, content=body.encode(),
                         headers={"Content-Type": "application/json"})
    if field != "\\ud800":
        assert "must be valid Unicode" in answer["error_description"]
    assert admin.ok("GET", path)["total"] == before


def test_surrogates_are_refused_when_changing_a_client(admin: Admin) -> None:
    client = admin.client(redirect_uris=["https://app.example.com/cb"])
    path = f"/clients/{client['client_id']}"
    admin.error("PATCH", path, 400, "invalid_request", "post_logout_redirect_uris[0]",
                content=b'{"post_logout_redirect_uris": ["https://a\\ud800.com/bye"]}',
                headers={"Content-Type": "application/json"})
    assert admin.ok("GET", path)["post_logout_redirect_uris"] == client["post_logout_redirect_uris"]
    admin.ok("GET", "/clients", params={"limit": 200})


@pytest.mark.parametrize("value", ["1\n", "1\n\n", " 1", "\u00b2", "1_0"])
def test_integer_query_parameters_are_digits_only(admin: Admin, value: str) -> None:
    admin.error("GET", "/accounts", 400, "invalid_request", "limit", params={"limit": value})
