"""The event client against a real Canary: batches, a retry that must not count twice, Retry-After, events
Canary refuses (invalid, or about accounts outside the client's organization), a full queue, tracking that
never waits for Canary, and close() while a post hangs."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from canary_resource import AccessClaims, EventClient, Stats
from canary_resource.recording import Recorder
from idp.accounts.models import User
from idp.accounts.service import add_member, create_organization
from idp.db import transaction
from tests.kit.conftest import Canary, free_port


class Gateway(BaseHTTPRequestHandler):
    """Forwards POST /v1/events to Canary, misbehaving as ``faults`` says, one fault per request:
    ``lost`` forwards the batch but answers 503 (Canary has it; the client must think it has not),
    ``busy`` answers 429 without forwarding, ``forbidden`` answers 403 naming no event (as Canary answers a
    token without events:write), ``hang`` holds the request until ``release`` is set, then forwards it;
    no fault left: forwards and relays Canary's answer."""

    target = ""
    faults: list[str] = []
    seen: list[tuple[float, int]] = []  # (when, events in the request)
    arrived = threading.Event()
    release = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Gateway.seen.append((time.monotonic(), body.count(b'"event_id"')))
        Gateway.arrived.set()
        fault = Gateway.faults.pop(0) if Gateway.faults else None
        status, answer = 429, b"{}"
        if fault == "hang":
            Gateway.release.wait(60)
        if fault == "forbidden":
            status, answer = 403, b'{"error": "insufficient_scope", "error_description": "events:write"}'
        elif fault != "busy":
            forwarded = httpx.post(Gateway.target, content=body, headers={
                "Authorization": self.headers["Authorization"], "Content-Type": "application/json"})
            status, answer = forwarded.status_code, forwarded.content
            if fault == "lost":
                status, answer = 503, b"{}"
        self.send_response(status)
        if fault in ("lost", "busy"):
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        try:
            self.end_headers()
            self.wfile.write(answer)
        except OSError:  # the client gave up waiting
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway(canary: Canary) -> Iterator[str]:
    Gateway.target, Gateway.faults, Gateway.seen = f"{canary.url}/v1/events", [], []
    Gateway.arrived, Gateway.release = threading.Event(), threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/events"
    Gateway.release.set()
    server.shutdown()
    server.server_close()


def client(canary: Canary, **options: object) -> EventClient:
    return EventClient(canary.url, canary.rs_id, canary.rs_secret, register_atexit=False, **options)  # type: ignore[arg-type]


def test_events_are_batched_and_show_up_once_for_their_account(canary: Canary, gateway: str) -> None:
    user = canary.user()
    events = client(canary, batch_size=100, endpoint=gateway)
    for i in range(250):
        assert events.track(user.id, "report.exported", {"n": i})
    assert events.flush(30)
    events.close()
    assert events.stats() == Stats(queued=0, sent=250, dropped=0, rejected=0, retries=0, lost=0)
    assert sum(n for _, n in Gateway.seen) == 250 and max(n for _, n in Gateway.seen) <= 100
    assert canary.events_of(user.id)["report.exported"] == 250


def test_a_batch_whose_answer_was_lost_is_sent_again_and_counted_once(canary: Canary, gateway: str) -> None:
    user = canary.user()
    Gateway.faults = ["lost", "busy"]
    events = client(canary, endpoint=gateway)
    for _ in range(10):
        events.track(user.id, "search")
    assert events.flush(30)
    events.close()
    assert events.stats().sent == 10 and events.stats().retries == 2
    (first, _), (second, _), (third, _) = Gateway.seen
    assert second - first >= 0.95 and third - second >= 0.95  # Retry-After: 1, honoured each time
    assert canary.events_of(user.id)["search"] == 10  # Canary got the first batch twice: same event_ids
    assert len(canary.stored(f"account = '{user.id}' AND name = 'search'")) == 10


def test_events_canary_refuses_are_dropped_and_the_rest_of_their_batch_sent(canary: Canary) -> None:
    user = canary.user()
    events = client(canary)
    events.track(user.id, "fine")
    events.track(user.id, "not a valid name!")
    events.track(user.id, "fine", {"big": "x" * 9000})  # properties over 8 KiB
    events.track(user.id, "fine", {"when": object()})  # not JSON
    events.track(user.id, "fine")
    assert events.flush(30)
    events.close()
    assert events.stats().rejected == 3 and events.stats().sent == 2
    assert canary.events_of(user.id)["fine"] == 2


def test_a_full_queue_drops_and_counts_and_tracking_never_waits_for_canary(canary: Canary) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    events = EventClient(closed, "id", "secret", max_queue=100, interval=0.05, max_backoff=0.2,
                         register_atexit=False)
    started = time.perf_counter()
    accepted = [events.track("someone", "search") for _ in range(150)]
    took = time.perf_counter() - started
    assert accepted.count(True) == 100 and events.stats().dropped == 50
    assert took < 0.05, took  # 150 calls while Canary is unreachable
    time.sleep(0.3)
    assert events.stats().retries >= 1 and events.stats().sent == 0
    events.close(timeout=0.5)
    assert events.stats().lost == 100 and events.stats().queued == 0
    assert events.track("someone", "search") is False  # closed


def test_a_recorded_request_carries_the_token_s_organization(canary: Canary) -> None:
    user = canary.user()
    with transaction(canary.context.factory) as db:
        org = create_organization(db, slug=f"kit-{uuid.uuid4().hex[:6]}")
        add_member(db, db.get(User, user.id), org)
        org_id = org.id
    events = client(canary)
    recorder = Recorder(events, exclude=["/health"])
    claims = AccessClaims(sub=user.id, client_id="app", scopes=frozenset(), expires_at=0, organization=org_id)
    assert recorder.record(claims, "GET", "/reports/{id}", 200)
    assert not recorder.record(claims, "GET", "/health", 200)  # excluded
    assert not recorder.record(claims, "GET", None, 404)  # no route matched
    assert events.flush(30)
    events.close()
    (row,) = canary.stored(f"account = '{user.id}' AND source = 'api'")
    assert row["organization"] == org_id and row["name"] == "GET:reports.:id"


def test_events_about_accounts_outside_the_client_s_organization_are_dropped_and_the_rest_sent(
        canary: Canary) -> None:
    member, outsider = canary.user(), canary.user()
    with transaction(canary.context.factory) as db:
        org = create_organization(db, slug=f"kit-{uuid.uuid4().hex[:6]}")
        add_member(db, db.get(User, member.id), org)
        org_id = org.id
    client_id, secret = canary.client(name="acme reports API", grant_types=["client_credentials"],
                                      scope="events:write", organization_id=org_id)
    assert secret
    events = EventClient(canary.url, client_id, secret, register_atexit=False)
    events.track(member.id, "org.kept", {"n": 0})
    events.track(outsider.id, "org.refused")  # Canary answers 403 naming this event and the fourth
    events.track(member.id, "org.kept", {"n": 2})
    events.track(outsider.id, "org.refused")
    assert events.flush(30)
    events.track(member.id, "org.kept", {"n": 4})  # the client goes on sending afterwards
    assert events.flush(30)
    events.close()
    assert events.stats() == Stats(queued=0, sent=3, dropped=0, rejected=2, retries=0, lost=0)
    kept = canary.stored(f"account = '{member.id}' AND name = 'org.kept'")
    assert sorted(json.loads(r["properties"])["n"] for r in kept) == [0, 2, 4]
    assert all(r["organization"] == org_id for r in kept)
    assert canary.stored(f"account = '{outsider.id}'") == []


def test_a_refusal_that_names_no_event_drops_the_whole_batch(canary: Canary, gateway: str) -> None:
    user = canary.user()
    Gateway.faults = ["forbidden"]
    events = client(canary, endpoint=gateway)
    for _ in range(3):
        events.track(user.id, "search")
    assert events.flush(30)
    events.close()
    assert events.stats() == Stats(queued=0, sent=0, dropped=0, rejected=3, retries=0, lost=0)
    assert len(Gateway.seen) == 1


def test_close_returns_at_its_deadline_while_a_post_hangs_and_counts_its_events_once(
        canary: Canary, gateway: str) -> None:
    user = canary.user()
    Gateway.faults = ["hang"]
    events = client(canary, endpoint=gateway, interval=0.05)
    events.track(user.id, "report.hung")
    assert Gateway.arrived.wait(30)
    started = time.monotonic()
    events.close(timeout=0.5)
    took = time.monotonic() - started
    assert took < 0.5 + 0.4, took
    # The post under way still has its connection: when Canary answers, the event counts as sent, once.
    assert events.stats().queued == 1 and events.stats().lost == 0
    sender = events._thread
    assert sender is not None and sender.is_alive()
    Gateway.release.set()
    sender.join(30)
    assert not sender.is_alive()
    assert events.stats() == Stats(queued=0, sent=1, dropped=0, rejected=0, retries=0, lost=0)
    assert canary.events_of(user.id)["report.hung"] == 1


def test_a_post_made_while_closing_ends_at_the_deadline_and_its_events_count_once_as_lost(
        canary: Canary, gateway: str) -> None:
    user = canary.user()
    Gateway.faults = ["busy", "hang"]  # the retry after Retry-After: 1 hangs
    events = client(canary, endpoint=gateway, interval=0.05, timeout=30)
    events.track(user.id, "report.lost")
    assert Gateway.arrived.wait(30)
    started = time.monotonic()
    events.close(timeout=1.5)
    took = time.monotonic() - started
    assert len(Gateway.seen) == 2  # the retry was sent while closing
    assert took < 1.5 + 0.4, took
    sender = events._thread
    assert sender is None or not sender.is_alive()  # the sender ended with the hung post's deadline
    assert events.stats() == Stats(queued=0, sent=0, dropped=0, rejected=0, retries=1, lost=1)
