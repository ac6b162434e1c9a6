"""Lockout: at most the configured number of passwords is checked per lock period, however many guesses arrive
at once; unknown and locked accounts are answered exactly like a wrong password; the owner is told once."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

import idp.accounts.login as password_login
import idp.accounts.service as accounts_service
from analytics.api import Analytics, provider_events
from idp.accounts.models import User
from idp.db import transaction
from tests.functional.conftest import Provider, start_provider
from tests.support.browser import PASSWORD, authorize_params, hidden, login

GUESSES = 24


class CountingVerify:
    """Counts the password hashes really checked (a stored hash given), around the real function."""

    def __init__(self, real: Callable[[str | None, str], bool]) -> None:
        self.real = real
        self.checked: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, stored: str | None, password: str) -> bool:
        if stored is not None:
            with self.lock:
                self.checked.append(password)
        return self.real(stored, password)


@pytest.fixture
def guarded(database_url: str, tmp_path: Path) -> Iterator[Provider]:
    """A provider of its own whose address and account limits are out of the way: lockout alone is tested."""
    prov, server = start_provider(tmp_path, database_url, signin_address_limit=0, signin_account_limit=0)
    yield prov
    server.stop()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> CountingVerify:
    counter = CountingVerify(password_login.verify_password)
    monkeypatch.setattr(password_login, "verify_password", counter)
    return counter


def _forms(prov: Provider, count: int) -> list[tuple[httpx.Client, dict[str, str]]]:
    client_id, _ = prov.client(first_party=True)
    forms = []
    for _ in range(count):
        browser = httpx.Client(base_url=prov.url, follow_redirects=False, timeout=60)
        page = browser.get("/authorize", params=authorize_params(client_id))
        forms.append((browser, {"csrf_token": hidden(page.text, "csrf_token"),
                                "authorization_request": hidden(page.text, "authorization_request")}))
    return forms


def _burst(prov: Provider, email: str, password: str, count: int) -> list[httpx.Response]:
    forms = _forms(prov, count)
    barrier = threading.Barrier(count)

    def attempt(form: tuple[httpx.Client, dict[str, str]]) -> httpx.Response:
        browser, fields = form
        barrier.wait()
        return browser.post("/login", data={**fields, "email": email, "password": password})

    try:
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(attempt, forms))
    finally:
        for browser, _ in forms:
            browser.close()


def test_parallel_guesses_check_at_most_the_allowed_passwords(guarded: Provider, counted: CountingVerify) -> None:
    user = guarded.user()
    responses = _burst(guarded, user.email, "wrong password", GUESSES)
    assert all(r.status_code == 200 and "Wrong e-mail or password" in r.text for r in responses)
    assert len(counted.checked) == guarded.settings.login_max_failures
    with guarded.context.factory() as db:
        locked = db.get(User, user.id)
        assert locked is not None and accounts_service.is_locked(locked, guarded.clock.now())
    # Locked: even the right password is not checked, until the lock period ends.
    counted.checked.clear()
    browser, fields = _forms(guarded, 1)[0]
    refused = browser.post("/login", data={**fields, "email": user.email, "password": PASSWORD})
    assert refused.status_code == 200 and "Wrong e-mail or password" in refused.text and counted.checked == []
    guarded.clock.advance(guarded.settings.login_lock_seconds + 1)
    responses = _burst(guarded, user.email, "wrong again!", GUESSES)
    assert len(counted.checked) == guarded.settings.login_max_failures  # a new period, the same allowance
    browser.close()


def _answer(response: httpx.Response) -> tuple[int, str]:
    """What a guesser sees of a login answer: status and page, without the per-request tokens and nonce, and
    without the address they typed (kept in the form)."""
    text = re.sub(r'nonce="[^"]*"', "", response.text)
    text = re.sub(r'(name="email"[^>]*) value="[^"]*"', r'\1', text)
    for name in ("csrf_token", "authorization_request"):
        text = text.replace(hidden(text, name), "")
    return response.status_code, text


def test_unknown_and_locked_accounts_get_the_wrong_password_answer(guarded: Provider) -> None:
    user = guarded.user()
    client_id, _ = guarded.client(first_party=True)
    with httpx.Client(base_url=guarded.url, follow_redirects=False, timeout=30) as browser:
        page = browser.get("/authorize", params=authorize_params(client_id, state="s", nonce="n"))
        wrong = login(browser, page, user.email, "wrong password")
        unknown = login(browser, page, "nobody-here@example.com", "wrong password")
        for _ in range(guarded.settings.login_max_failures):
            login(browser, page, user.email, "wrong password")
        locked = login(browser, page, user.email, PASSWORD)  # the right password, on a locked account
    assert _answer(wrong) == _answer(unknown) == _answer(locked)
    assert "Wrong e-mail or password" in wrong.text and "locked" not in locked.text.lower()


def test_the_lock_hook_is_called_once_per_lock(guarded: Provider) -> None:
    calls: list[tuple[str, datetime]] = []

    def on_lock(db: Session, user: User, until: datetime) -> None:
        calls.append((user.email, until))

    policy = guarded.context.login_policy
    guarded.context.login_policy = replace(policy, on_lock=on_lock)
    try:
        user = guarded.user()
        _burst(guarded, user.email, "wrong password", GUESSES)
        assert [email for email, _ in calls] == [user.email]
        _burst(guarded, user.email, "wrong password", 4)  # still locked: no second notice
        assert len(calls) == 1
        guarded.clock.advance(guarded.settings.login_lock_seconds + 1)
        _burst(guarded, user.email, "wrong password", GUESSES)
        assert [email for email, _ in calls] == [user.email, user.email]
    finally:
        guarded.context.login_policy = policy


def test_a_right_password_after_failures_resets_the_count(guarded: Provider) -> None:
    user = guarded.user()
    client_id, _ = guarded.client(first_party=True)
    with httpx.Client(base_url=guarded.url, follow_redirects=False, timeout=30) as browser:
        page = browser.get("/authorize", params=authorize_params(client_id))
        for _ in range(guarded.settings.login_max_failures - 1):
            login(browser, page, user.email, "wrong password")
        assert login(browser, page, user.email).status_code == 303
    with transaction(guarded.context.factory) as db:
        fresh = db.get(User, user.id)
        assert fresh is not None and fresh.failed_logins == 0 and fresh.locked_until is None


@pytest.fixture
def recorded(database_url: str, tmp_path: Path) -> Iterator[Provider]:
    """A provider recording its own events (chDB), limits out of the way."""
    analytics = Analytics.open(url=None, data_dir=tmp_path, flush_interval=0.2)
    analytics.migrate()
    prov, server = start_provider(tmp_path, database_url, analytics, signin_address_limit=0,
                                  signin_account_limit=0)
    prov.extra["analytics"] = analytics
    yield prov
    server.stop()


def test_failed_sign_ins_are_recorded_with_their_reason(recorded: Provider) -> None:
    user, gone = recorded.user(), recorded.user()
    with transaction(recorded.context.factory) as db:
        disabled = db.get(User, gone.id)
        assert disabled is not None
        accounts_service.disable_user(db, disabled)
    client_id, _ = recorded.client(first_party=True)
    with httpx.Client(base_url=recorded.url, follow_redirects=False, timeout=30) as browser:
        page = browser.get("/authorize", params=authorize_params(client_id))
        login(browser, page, "nobody-at-all@example.com", "wrong password")
        login(browser, page, gone.email)
        for _ in range(recorded.settings.login_max_failures + 1):
            login(browser, page, user.email, "wrong password")
    analytics: Analytics = recorded.extra["analytics"]
    analytics.flush(20)
    rows = analytics.clickhouse.execute(
        f"SELECT account, properties FROM events WHERE name = '{provider_events.SIGNIN_FAILED}'").dicts()
    reasons = sorted((row["account"], json.loads(row["properties"])["reason"]) for row in rows)
    expected = [("", "unknown_user"), (gone.id, "disabled")]
    expected += [(user.id, "bad_password")] * recorded.settings.login_max_failures + [(user.id, "locked")]
    assert reasons == sorted(expected)
