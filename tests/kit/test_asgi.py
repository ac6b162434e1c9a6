"""A Starlette app behind CanaryMiddleware, served by uvicorn, with a real Canary: refusals as RFC 6750 says,
claims on the request, ``requires`` per route, and each authenticated request in Canary's activity answers
under its route template."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jws import extract_compact
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from canary_resource import CanaryMiddleware, EventClient, Guard, Stats, claims_of, current_claims, requires
from idp.db import transaction
from idp.oauth.keys import rotate
from tests.kit.conftest import API_SCOPE, AppServer, Canary


@requires(API_SCOPE)
async def report(request: Request) -> JSONResponse:
    claims = claims_of(request)
    assert claims is not None and current_claims() is claims
    return JSONResponse({"id": request.path_params["id"], "sub": claims.sub})


@requires("reports:write")
def delete_report(request: Request) -> JSONResponse:  # a sync endpoint: run in a thread by Starlette
    return JSONResponse({"deleted": True})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "claims": claims_of(request) is not None})


async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    claims = current_claims()
    await websocket.send_text(claims.sub if claims is not None else "")
    await websocket.close()


async def member(request: Request) -> JSONResponse:
    return JSONResponse({"org": request.path_params["org"]})


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"org": str(request.path_params["org_id"]), "item": request.path_params["item"]})


def make_app(canary: Canary, **options: object) -> Starlette:
    versioned = Starlette(routes=[Route("/reports/{id}", report)])  # one API, mounted under two versions
    app = Starlette(routes=[
        Route("/reports/{id}", report),
        Route("/reports/{id}", delete_report, methods=["DELETE"]),
        Route("/health", health),
        WebSocketRoute("/live", live),
        Mount("/orgs/{org_id:uuid}", routes=[Route("/items/{item}", item)]),
        Mount("/orgs/{org}", routes=[Route("/members", member)]),
        Mount("/v1", app=versioned),
        Mount("/v2", app=versioned),
    ])
    app.add_middleware(CanaryMiddleware, issuer=canary.url, client_id=canary.rs_id,  # type: ignore[arg-type]
                       client_secret=canary.rs_secret, public=["/health"], realm="reports", **options)
    return app


@pytest.fixture(scope="module")
def api(canary: Canary) -> Iterator[tuple[str, Starlette]]:
    app = make_app(canary, record_usage=True, exclude=["OPTIONS *", "HEAD *", "/health*"], jwks_min_refresh=0.2)
    with AppServer(app) as server:
        yield server.url, app


def test_requests_without_a_good_token_are_refused_as_rfc6750_says(canary: Canary,
                                                                   api: tuple[str, Starlette]) -> None:
    url, _ = api
    missing = httpx.get(f"{url}/reports/1")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="reports"'
    bad = httpx.get(f"{url}/reports/1", headers={"Authorization": "Bearer nope.nope.nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
    assert bad.headers["www-authenticate"].startswith('Bearer realm="reports", error="invalid_token"')
    basic = httpx.get(f"{url}/reports/1", auth=("a", "b"))  # another scheme: no Bearer credentials at all
    assert basic.status_code == 401 and basic.headers["www-authenticate"] == 'Bearer realm="reports"'
    empty = httpx.get(f"{url}/reports/1", headers={"Authorization": "Bearer"})
    assert empty.status_code == 401 and 'error="invalid_token"' in empty.headers["www-authenticate"]
    assert httpx.get(f"{url}/health").json() == {"ok": True, "claims": False}


def test_good_token_reaches_the_route_and_requires_checks_scopes(canary: Canary, api: tuple[str, Starlette]) -> None:
    url, _ = api
    user, token = canary.user_token()
    auth = {"Authorization": f"Bearer {token}"}
    ok = httpx.get(f"{url}/reports/42", headers=auth)
    assert ok.status_code == 200 and ok.json() == {"id": "42", "sub": user.id}
    refused = httpx.delete(f"{url}/reports/42", headers=auth)
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert refused.headers["www-authenticate"] == ('Bearer realm="reports", error="insufficient_scope", '
                                                   'error_description="the access token lacks the scope '
                                                   'reports:write", scope="reports:write"')
    _, narrow = canary.user_token(scope="openid")
    assert httpx.get(f"{url}/reports/42", headers={"Authorization": f"Bearer {narrow}"}).status_code == 403


def test_websocket_handshakes_need_a_good_token(canary: Canary, api: tuple[str, Starlette]) -> None:
    url, _ = api
    ws = url.replace("http://", "ws://") + "/live"
    user, token = canary.user_token()
    with connect(ws, additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        assert socket.recv(timeout=10) == user.id
    for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
        with pytest.raises(InvalidStatus) as refused, connect(ws, additional_headers=headers):
            pass
        assert refused.value.response.status_code == 403


def test_a_key_rotation_in_canary_is_picked_up_by_the_running_api(canary: Canary,
                                                                  api: tuple[str, Starlette]) -> None:
    url, _ = api
    _, before = canary.user_token()
    assert httpx.get(f"{url}/reports/1", headers={"Authorization": f"Bearer {before}"}).status_code == 200
    with transaction(canary.context.factory) as db:
        new = rotate(db, canary.settings.signing_alg, publish_delay=0)
    canary.context.keys.reload()
    time.sleep(0.25)  # past the API's JWKS refetch interval
    _, after = canary.user_token()
    assert extract_compact(after.encode()).headers()["kid"] == new.kid
    for token in (after, before):
        assert httpx.get(f"{url}/reports/1", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_authenticated_requests_appear_in_canary_activity_under_the_route_template(
        canary: Canary, api: tuple[str, Starlette]) -> None:
    url, app = api
    user, token = canary.user_token()
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(3):
        assert httpx.get(f"{url}/reports/{i}", headers=auth).status_code == 200
    assert httpx.delete(f"{url}/reports/7", headers=auth).status_code == 403
    assert httpx.get(f"{url}/nowhere/9", headers=auth).status_code == 404  # no route: never recorded
    assert httpx.get(f"{url}/orgs/acme/members", headers=auth).status_code == 200
    assert _events(app).flush(20)
    used = {k: v for k, v in canary.events_of(user.id).items() if ":" in k}
    assert used == {"GET:reports.:id": 3, "DELETE:reports.:id": 1, "GET:orgs.:org.members": 1}
    rows = canary.stored(f"account = '{user.id}' AND source = 'api'")
    assert sorted((r["name"], json.loads(r["properties"])["route"], json.loads(r["properties"])["status"])
                  for r in rows) == [("DELETE:reports.:id", "DELETE /reports/{id}", 403),
                                     ("GET:orgs.:org.members", "GET /orgs/{org}/members", 200),
                                     ("GET:reports.:id", "GET /reports/{id}", 200),
                                     ("GET:reports.:id", "GET /reports/{id}", 200),
                                     ("GET:reports.:id", "GET /reports/{id}", 200)]
    assert not any("acme" in r["properties"] or "nowhere" in r["name"] for r in rows)


def test_mounted_routes_are_named_from_the_templates_of_their_mounts(canary: Canary,
                                                                     api: tuple[str, Starlette]) -> None:
    url, app = api
    user, token = canary.user_token()
    auth = {"Authorization": f"Bearer {token}"}
    org = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    assert httpx.get(f"{url}/orgs/{org}/items/7", headers=auth).json() == {"org": org.lower(), "item": "7"}
    assert httpx.get(f"{url}/v1/reports/v1", headers=auth).json() == {"id": "v1", "sub": user.id}
    assert httpx.get(f"{url}/v2/reports/v1", headers=auth).status_code == 200
    assert httpx.get(f"{url}/v2/reports/v2", headers=auth).status_code == 200
    assert httpx.get(f"{url}/orgs/acme/nowhere", headers=auth).status_code == 404  # the mount matched, no route
    assert _events(app).flush(20)
    used = {k: v for k, v in canary.events_of(user.id).items() if ":" in k}
    assert used == {"GET:orgs.:org_id.items.:item": 1, "GET:v1.reports.:id": 1, "GET:v2.reports.:id": 2}
    rows = canary.stored(f"account = '{user.id}' AND source = 'api'")
    assert sorted(json.loads(r["properties"])["route"] for r in rows) == [
        "GET /orgs/{org_id:uuid}/items/{item}", "GET /v1/reports/{id}", "GET /v2/reports/{id}",
        "GET /v2/reports/{id}"]


def test_a_middleware_inside_a_mount_names_routes_from_where_its_app_starts(canary: Canary) -> None:
    events = EventClient(canary.url, canary.rs_id, canary.rs_secret, register_atexit=False)
    guard = Guard(canary.url, client_id=canary.rs_id, client_secret=canary.rs_secret, record_usage=True,
                  events=events)
    api = Starlette(routes=[Route("/reports/{id}", report)])
    app = Starlette(routes=[Mount("/tenants/{tenant}", app=api,
                                  middleware=[Middleware(CanaryMiddleware, guard=guard)])])
    user, token = canary.user_token()
    auth = {"Authorization": f"Bearer {token}"}
    with AppServer(app) as server:
        assert httpx.get(f"{server.url}/tenants/acme/reports/5", headers=auth).status_code == 200
        assert httpx.get(f"{server.url}/tenants/acme/nowhere", headers=auth).status_code == 404
    guard.close()  # a mount gets no lifespan events: the app closes what it made
    assert {k: v for k, v in canary.events_of(user.id).items() if ":" in k} == {"GET:reports.:id": 1}


@pytest.mark.parametrize("header", ['{"alg":["RS256"]}', "[" * 5000], ids=["alg list", "deep nesting"])
def test_crafted_token_headers_are_invalid_tokens_over_http_and_websocket(
        canary: Canary, api: tuple[str, Starlette], header: str) -> None:
    url, _ = api
    token = base64.urlsafe_b64encode(header.encode()).rstrip(b"=").decode() + ".e30.x"
    auth = {"Authorization": f"Bearer {token}"}
    refused = httpx.get(f"{url}/reports/1", headers=auth)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    with pytest.raises(InvalidStatus) as closed, connect(url.replace("http://", "ws://") + "/live",
                                                          additional_headers=auth):
        pass
    assert closed.value.response.status_code == 403


def test_the_same_app_served_again_in_the_process_checks_tokens_and_records_again(canary: Canary) -> None:
    events = EventClient(canary.url, canary.rs_id, canary.rs_secret, interval=600)
    app = make_app(canary, record_usage=True, events=events, introspection_ttl=0)
    user, opaque = canary.user_token(access_token_format="opaque")  # introspected: Canary is called each time
    for run in (1, 2):
        with AppServer(app) as server:
            for i in range(2):
                response = httpx.get(f"{server.url}/reports/{i}",
                                     headers={"Authorization": f"Bearer {opaque}x{run}{i}"})
                assert response.status_code == 401  # not active: answered by introspection, not a 500
            ok = httpx.get(f"{server.url}/reports/{run}", headers={"Authorization": f"Bearer {opaque}"})
            assert ok.status_code == 200 and ok.json()["sub"] == user.id
        assert events.stats() == Stats(queued=0, sent=run, dropped=0, rejected=0, retries=0, lost=0)
    assert canary.events_of(user.id)["GET:reports.:id"] == 2


def test_lifespan_shutdown_sends_what_is_queued(canary: Canary) -> None:
    events = EventClient(canary.url, canary.rs_id, canary.rs_secret, interval=600)
    app = make_app(canary, record_usage=True, events=events, sample=1.0)
    user, token = canary.user_token()
    with AppServer(app) as server:
        for i in range(5):
            assert httpx.get(f"{server.url}/reports/{i}", headers={"Authorization": f"Bearer {token}"}).is_success
        assert events.stats().queued == 5 and events.stats().sent == 0  # the sender waits for its interval
    assert events.stats() == Stats(queued=0, sent=5, dropped=0, rejected=0, retries=0, lost=0)
    assert canary.events_of(user.id)["GET:reports.:id"] == 5


def test_sampling_records_a_fraction_and_unauthenticated_requests_are_never_recorded(canary: Canary) -> None:
    events = EventClient(canary.url, canary.rs_id, canary.rs_secret)
    app = make_app(canary, record_usage=True, events=events, sample=0.0, require_token=False)
    _, token = canary.user_token()
    with AppServer(app) as server:
        assert httpx.get(f"{server.url}/reports/1").status_code == 401  # requires() without a token
        assert httpx.get(f"{server.url}/reports/1", headers={"Authorization": f"Bearer {token}"}).is_success
    assert events.stats().sent == 0 and events.stats().queued == 0


def _events(app: Starlette) -> EventClient:
    layer: object = app.middleware_stack
    while layer is not None and not isinstance(layer, CanaryMiddleware):
        layer = getattr(layer, "app", None)
    assert layer is not None and layer.guard.events is not None
    return layer.guard.events
