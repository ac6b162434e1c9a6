"""Sliding-window limits: per client address and per account on the login form, per address and per client on
failed client authentication at /token and /introspect; shared through the database by every node."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from analytics.api import Analytics, provider_events
from idp.accounts.models import ThrottleCount
from tests.functional.conftest import Provider, ServerThread, start_provider
from tests.support.browser import PASSWORD, authorize_params, hidden, login

WINDOW = 60


@pytest.fixture
def nodes(database_url: str, tmp_path: Path) -> Iterator[tuple[Provider, Provider]]:
    """Two provider nodes on one database, with small limits, the first one recording its events (chDB)."""
    limits: dict[str, Any] = {"signin_address_limit": 4, "signin_account_limit": 3, "client_auth_limit": 3,
                              "throttle_window": WINDOW, "login_max_failures": 100, "signup": "open"}
    analytics = Analytics.open(url=None, data_dir=tmp_path / "a", flush_interval=0.2)
    analytics.migrate()
    servers: list[ServerThread] = []
    first, server = start_provider(tmp_path / "a", database_url, analytics, **limits)
    first.extra["analytics"] = analytics
    servers.append(server)
    second, server = start_provider(tmp_path / "b", database_url, **limits)
    servers.append(server)
    # The limits count in the shared table; each test starts from a clean slate there.
    with first.context.factory() as db:
        db.query(ThrottleCount).delete()
        db.commit()
    yield first, second
    for server in servers:
        server.stop()


def _page(prov: Provider, browser: httpx.Client) -> httpx.Response:
    client_id, _ = prov.client(first_party=True)
    return browser.get("/authorize", params=authorize_params(client_id))


def _stored(prov: Provider, name: str) -> list[dict[str, Any]]:
    analytics: Analytics = prov.extra["analytics"]
    analytics.flush(20)
    rows = analytics.clickhouse.execute(
        f"SELECT account, properties FROM events WHERE name = '{name}' AND source = 'idp'").dicts()
    return [{"account": r["account"], **json.loads(r["properties"])} for r in rows]


def test_spraying_one_password_from_one_address_is_refused_with_retry_after(nodes: tuple[Provider, Provider]) -> None:
    first, _ = nodes
    users = [first.user() for _ in range(8)]
    with httpx.Client(base_url=first.url, timeout=30) as browser:
        page = _page(first, browser)
        answers = [login(browser, page, user.email, "Summer2026!") for user in users]
    assert [a.status_code for a in answers] == [200] * 4 + [429] * 4
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("text/html") and "Too many sign-in attempts" in refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= WINDOW
    throttled = _stored(first, provider_events.SIGNIN_THROTTLED)
    assert len(throttled) == 4 and {t["limit"] for t in throttled} == {"signin-address"}
    assert {t["endpoint"] for t in throttled} == {"login"}
    failed = _stored(first, provider_events.SIGNIN_FAILED)
    assert sorted(f["reason"] for f in failed) == ["bad_password"] * 4


def test_concurrent_spraying_checks_no_more_passwords_than_the_limit(nodes: tuple[Provider, Provider]) -> None:
    first, _ = nodes
    users = [first.user() for _ in range(12)]
    client_id, _ = first.client(first_party=True)
    browsers = [httpx.Client(base_url=first.url, timeout=60) for _ in users]
    pages = [b.get("/authorize", params=authorize_params(client_id)) for b in browsers]
    barrier = threading.Barrier(len(users))

    def attempt(index: int) -> int:
        barrier.wait()
        return login(browsers[index], pages[index], users[index].email, "Summer2026!").status_code

    with ThreadPoolExecutor(len(users)) as pool:
        statuses = list(pool.map(attempt, range(len(users))))
    for browser in browsers:
        browser.close()
    assert sorted(statuses) == [200] * 4 + [429] * 8


def test_one_account_is_limited_whatever_the_address_and_the_window_slides(nodes: tuple[Provider, Provider]) -> None:
    first, second = nodes
    user, other = first.user(), first.user()
    with httpx.Client(base_url=first.url, timeout=30) as a, httpx.Client(base_url=second.url, timeout=30) as b:
        page_a, page_b = _page(first, a), _page(second, b)
        assert login(a, page_a, user.email, "guess one").status_code == 200
        assert login(b, page_b, user.email, "guess two").status_code == 200  # the other node counts too
        assert login(a, page_a, user.email.upper(), "guess three").status_code == 200
        refused = login(b, page_b, user.email, PASSWORD)  # even the right password waits
        assert refused.status_code == 429
        assert login(a, page_a, other.email).status_code == 303  # another account is not held up
        wait = int(refused.headers["retry-after"])
        for prov in nodes:
            prov.clock.advance(wait + 1)
        assert login(b, page_b, user.email).status_code == 303


def test_a_right_password_does_not_use_up_the_addresss_allowance(nodes: tuple[Provider, Provider]) -> None:
    first, _ = nodes
    with httpx.Client(base_url=first.url, timeout=30) as browser:
        for _ in range(6):
            browser.cookies.clear()
            page = _page(first, browser)
            assert login(browser, page, first.user().email).status_code == 303


def _token(prov: Provider, auth: tuple[str, str]) -> httpx.Response:
    return httpx.post(f"{prov.url}/token", data={"grant_type": "client_credentials"}, auth=auth)


def test_failed_client_authentication_is_limited_on_every_node(nodes: tuple[Provider, Provider]) -> None:
    first, second = nodes
    client_id, secret = first.client(grant_types=["client_credentials"], scope="events:write", redirect_uris=[])
    assert secret is not None
    for _ in range(3):
        assert _token(first, (client_id, "not the secret")).status_code == 401
    refused = _token(second, (client_id, "still not it"))
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 2 * WINDOW  # the failures beyond the limit count too
    assert _token(second, (client_id, secret)).status_code == 429  # refused unchecked until the window slides
    introspection = httpx.post(f"{second.url}/introspect", data={"token": "x"}, auth=(client_id, secret))
    assert introspection.status_code == 429
    assert _token(first, (client_id, secret)).status_code == 429
    for prov in nodes:
        prov.clock.advance(2 * WINDOW)
    assert _token(second, (client_id, secret)).status_code == 200
    throttled = _stored(first, provider_events.SIGNIN_THROTTLED)
    assert [(t["endpoint"], t["limit"]) for t in throttled] == [("token", "client-address")]  # the first node refused


def test_failed_introspection_authentication_is_limited(nodes: tuple[Provider, Provider]) -> None:
    first, _ = nodes
    statuses = [httpx.post(f"{first.url}/introspect", data={"token": "x", "client_id": "no-such-client",
                                                            "client_secret": "guess"}).status_code
                for _ in range(5)]
    assert statuses == [400, 400, 400, 429, 429]  # invalid_client (400 without a Basic header), then 429


def test_failed_revocation_authentication_is_limited(nodes: tuple[Provider, Provider]) -> None:
    first, _ = nodes
    client_id, secret = first.client(grant_types=["client_credentials"], scope="events:write", redirect_uris=[])
    assert secret is not None
    statuses = [httpx.post(f"{first.url}/revoke", data={"token": "x"}, auth=(client_id, "guess")).status_code
                for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert httpx.post(f"{first.url}/revoke", data={"token": "x"}, auth=(client_id, secret)).status_code == 429
    throttled = _stored(first, provider_events.SIGNIN_THROTTLED)
    assert {t["endpoint"] for t in throttled} == {"revoke"}


def test_old_counters_are_pruned(nodes: tuple[Provider, Provider]) -> None:
    first, _ = nodes
    with httpx.Client(base_url=first.url, timeout=30) as browser:
        page = _page(first, browser)
        login(browser, page, "someone@example.com", "guess")
        first.clock.advance(3 * WINDOW + first.context.throttle.PRUNE_EVERY)
        login(browser, page, "someone-else@example.com", "guess")
    with first.context.factory() as db:
        oldest = db.scalar(select(func.min(ThrottleCount.window_start)))
    assert oldest is not None and oldest >= first.clock.timestamp() - 2 * WINDOW


def test_sign_ups_and_reset_requests_are_limited_across_nodes(nodes: tuple[Provider, Provider]) -> None:
    """Five of each per client address in ten minutes, whichever node answers; a refused sign-up is a 429 with
    Retry-After, a refused reset request the same page as any other; each refusal is a ``signin.throttled``
    event."""
    first, _ = nodes
    browsers = [httpx.Client(base_url=node.url, timeout=30) for node in nodes]
    try:
        forms = [browser.get("/password/forgot") for browser in browsers]
        resets = [browsers[i % 2].post("/password/forgot", data={
            "csrf_token": hidden(forms[i % 2].text, "csrf_token"), "email": f"nobody-{i}@example.com"})
            for i in range(7)]
        pages = [browser.get("/signup") for browser in browsers]
        signups = [browsers[i % 2].post("/signup", data={
            "csrf_token": hidden(pages[i % 2].text, "csrf_token"), "email": f"mallory-{i}"})
            for i in range(7)]
    finally:
        for browser in browsers:
            browser.close()
    assert {r.status_code for r in resets} == {200}  # refused or not, the same answer
    assert [r.status_code for r in signups] == [400] * 5 + [429] * 2  # a bad address is checked after the limit
    assert 1 <= int(signups[-1].headers["retry-after"]) <= 600
    with first.context.factory() as db:
        counted = dict(db.execute(select(ThrottleCount.key, ThrottleCount.count)
                                  .where(ThrottleCount.key.in_(["reset-address:127.0.0.1",
                                                                "signup-address:127.0.0.1"]))).tuples().all())
    assert counted == {"reset-address:127.0.0.1": 5, "signup-address:127.0.0.1": 5}
    throttled = _stored(first, provider_events.SIGNIN_THROTTLED)  # the first node's refusals: the 7th of each
    assert sorted((t["endpoint"], t["limit"]) for t in throttled) == [("password_reset", "reset-address"),
                                                                    ("signup", "signup-address")]
