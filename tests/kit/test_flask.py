"""A Flask app protected by ``protect(app, ...)`` (the WSGI middleware), served by werkzeug, with a real Canary."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from flask import Flask, Response, jsonify, stream_with_context

from canary_resource import CanaryWSGI, Guard, current_claims, requires
from canary_resource.flask import claims, protect
from tests.kit.conftest import API_SCOPE, AppServer, Canary


def make_app() -> Flask:
    app = Flask("reports")

    @app.get("/reports/<int:report_id>")
    @requires(API_SCOPE)
    def report(report_id: int) -> object:
        found = claims()
        assert found is not None
        return jsonify(id=report_id, sub=found.sub)

    @app.post("/reports")
    @requires("reports:write")
    def create() -> object:
        return jsonify(created=True)

    @app.get("/health")
    def health() -> object:
        return jsonify(ok=True)

    @app.get("/reports/<int:report_id>/rows")
    def rows(report_id: int) -> Response:
        def generate() -> Iterator[str]:  # runs while the server sends the body, after the view returned
            for i in range(2):
                found = current_claims()
                yield f"{i} {found.sub if found is not None else None}\n"
        return Response(stream_with_context(generate()), mimetype="text/plain")

    return app


@pytest.fixture(scope="module")
def flask_api(canary: Canary) -> Iterator[tuple[str, Guard]]:
    app = make_app()
    guard = protect(app, canary.url, client_id=canary.rs_id, client_secret=canary.rs_secret, record_usage=True,
                    public=["/health"])
    with AppServer(app, wsgi=True) as server:
        yield server.url, guard
    guard.close()


def test_flask_refuses_missing_bad_and_insufficient_tokens(canary: Canary, flask_api: tuple[str, Guard]) -> None:
    url, _ = flask_api
    missing = httpx.get(f"{url}/reports/1")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    bad = httpx.get(f"{url}/reports/1", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    _, token = canary.user_token()
    scope = httpx.post(f"{url}/reports", headers={"Authorization": f"Bearer {token}"})
    assert scope.status_code == 403 and scope.json()["error"] == "insufficient_scope"
    assert 'scope="reports:write"' in scope.headers["www-authenticate"]
    assert httpx.get(f"{url}/health").json() == {"ok": True}


def test_flask_requests_are_recorded_under_the_url_rule(canary: Canary, flask_api: tuple[str, Guard]) -> None:
    url, guard = flask_api
    user, token = canary.user_token()
    auth = {"Authorization": f"Bearer {token}"}
    for i in (5, 6):
        response = httpx.get(f"{url}/reports/{i}", headers=auth)
        assert response.status_code == 200 and response.json() == {"id": i, "sub": user.id}
    assert httpx.get(f"{url}/missing", headers=auth).status_code == 404
    assert guard.events is not None and guard.events.flush(20)
    used = {k: v for k, v in canary.events_of(user.id).items() if ":" in k}
    assert used == {"GET:reports.:report_id": 2}
    rows = canary.stored(f"account = '{user.id}' AND source = 'api'")
    assert {json.loads(r["properties"])["route"] for r in rows} == {"GET /reports/{report_id}"}


def test_a_streamed_body_sees_the_request_s_claims_and_the_request_is_recorded(
        canary: Canary, flask_api: tuple[str, Guard]) -> None:
    url, guard = flask_api
    events = guard.events
    assert events is not None
    user, token = canary.user_token()
    before = events.stats()
    streamed = httpx.get(f"{url}/reports/3/rows", headers={"Authorization": f"Bearer {token}"})
    assert streamed.status_code == 200 and streamed.text == f"0 {user.id}\n1 {user.id}\n"
    # Recorded when the server closes the body, which may be just after the client has read it.
    deadline = time.monotonic() + 10
    while events.stats().queued + events.stats().sent == before.queued + before.sent:
        assert time.monotonic() < deadline, "the streamed request was not recorded"
        time.sleep(0.01)
    assert events.flush(20)
    assert {k: v for k, v in canary.events_of(user.id).items() if ":" in k} == {"GET:reports.:report_id.rows": 1}


@pytest.mark.parametrize("header", ['{"alg":["RS256"]}', "[" * 5000], ids=["alg list", "deep nesting"])
def test_flask_answers_crafted_token_headers_as_invalid_tokens(flask_api: tuple[str, Guard], header: str) -> None:
    url, _ = flask_api
    token = base64.urlsafe_b64encode(header.encode()).rstrip(b"=").decode() + ".e30.x"
    refused = httpx.get(f"{url}/reports/1", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_plain_wsgi_app_names_routes_through_the_route_callable(canary: Canary) -> None:
    def application(environ: dict, start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"ok"]

    wrapped = CanaryWSGI(application, canary.url, client_id=canary.rs_id, client_secret=canary.rs_secret,
                         record_usage=True, route=lambda environ: "/things/{id}")
    user, token = canary.user_token()
    with AppServer(wrapped, wsgi=True) as server:
        assert httpx.get(f"{server.url}/things/9", headers={"Authorization": f"Bearer {token}"}).text == "ok"
        assert httpx.get(f"{server.url}/things/9").status_code == 401
    wrapped.guard.close()
    assert {k: v for k, v in canary.events_of(user.id).items() if ":" in k} == {"GET:things.:id": 1}
