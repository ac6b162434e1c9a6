"""A browser's side of second factors over HTTP: the security page, TOTP codes by the provider's clock, the step
after the password."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pyotp

from tests.support.browser import hidden
from tests.support.clock import MovableClock

STEP = 30


def align(clock: MovableClock) -> None:
    """Move the clock one second into the next TOTP step, so a code made now stays current for ~29 s."""
    now = clock.timestamp()
    clock.advance(STEP - now % STEP + 1)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def fresh_code(secret: str, clock: MovableClock) -> str:
    """A code for a step no earlier code was accepted for."""
    align(clock)
    return code_at(secret, clock.now())


def post_form(http: httpx.Client, path: str, page: httpx.Response, **fields: str) -> httpx.Response:
    return http.post(path, data={"csrf_token": hidden(page.text, "csrf_token"), **fields})


def secret_on(page: httpx.Response) -> str:
    match = re.search(r"data-totp-secret>([A-Z2-7]+)<", page.text)
    assert match, page.text[:1000]
    return match.group(1)


def recovery_codes_on(page: httpx.Response) -> list[str]:
    return re.findall(r"data-recovery-code>([a-z2-7-]+)<", page.text)


def enroll_totp(http: httpx.Client, clock: MovableClock) -> tuple[str, list[str]]:
    """Set up an authenticator app from the security page of the signed-in ``http``; returns the secret and the
    recovery codes shown."""
    page = http.get("/account/security")
    assert page.status_code == 200 and "Not set up." in page.text, page.text[:500]
    started = post_form(http, "/account/security/totp-start", page)
    assert started.status_code == 200 and "<svg" in started.text
    secret = secret_on(started)
    done = post_form(http, "/account/security/totp-confirm", started, code=fresh_code(secret, clock))
    assert done.status_code == 200, done.text[:500]
    codes = recovery_codes_on(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


def second_factor(http: httpx.Client, after_password: httpx.Response, method: str, code: str) -> httpx.Response:
    """From the password form's answer to the second step's answer."""
    assert after_password.status_code == 303, after_password.text[:500]
    assert after_password.headers["location"] == "/login/second-factor"
    page = http.get("/login/second-factor")
    assert page.status_code == 200 and "Confirm it is you" in page.text, page.text[:500]
    return post_form(http, "/login/second-factor", page, method=method, code=code)


def follow_to_code(http: httpx.Client, response: httpx.Response) -> httpx.Response:
    """After the second step: back to /authorize, whose answer is the redirect to the client."""
    assert response.status_code == 303 and response.headers["location"].startswith("/authorize?"), \
        (response.status_code, response.text[:500])
    return http.get(response.headers["location"])
