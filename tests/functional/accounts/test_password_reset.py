"""Forgotten passwords over real HTTP with mail through a real SMTP server: the link from the mail, a new
password under the rules, the old password and the old refresh tokens dead, the owner told; an unknown address
gets the same answer, in the same time (the work on the address is done after the answer), and no mail; an
operator sends a reset by the admin API."""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from idp.accounts import recovery
from idp.accounts.models import AccountToken, ThrottleCount
from idp.accounts.throttle import Limit
from idp.web.after_response import PENDING
from tests.functional.accounts.conftest import Mailbox
from tests.functional.conftest import Provider
from tests.support.browser import PASSWORD, hidden, login, redirect_params
from tests.support.password_reset import NEW_PASSWORD, choose, forgot
from tests.support.relying_party import RelyingParty


def test_reset_from_the_mail_kills_the_old_password_and_refresh_tokens(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, new_email: str) -> None:
    user = provider_m.user(email=new_email, name="Ada Lovelace")
    client_id, secret = provider_m.client(name="Acme app", first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    code = redirect_params(login(browser, browser.get(rp.authorization_url()), user.email))["code"]
    old = rp.tokens(code)

    with httpx.Client(base_url=provider_m.url, timeout=30) as other:
        page = other.get(rp.authorization_url())
        answer = forgot(other, page, user.email)
    assert answer.status_code == 200 and "If an account exists for" in answer.text
    message = mailbox.last(user.email)
    assert message["Subject"] == "Reset your Acme Cloud password"
    link = mailbox.link(user.email, "/password/reset")

    for weak, why in [("short", "at least 10 characters"), ("password123", "most common"),
                      (user.email, "e-mail address or your name")]:
        refused = choose(browser, link, weak)
        assert refused.status_code == 400 and why in refused.text, refused.text
    assert "differ" in choose(browser, link, NEW_PASSWORD, "something else").text
    done = choose(browser, link, NEW_PASSWORD)
    assert done.status_code == 200 and "Password changed" in done.text
    assert choose(browser, link, "yet another passphrase").status_code == 400  # single use

    assert rp.refresh(old["refresh_token"]).json()["error"] == "invalid_grant"
    refused = login(browser, browser.get(rp.authorization_url()), user.email, PASSWORD)
    assert "Wrong e-mail or password" in refused.text
    assert f'value="{user.email}"' in refused.text  # the address stays filled in
    fresh = rp.tokens(redirect_params(login(browser, refused, user.email, NEW_PASSWORD))["code"])
    assert fresh["access_token"]
    told = mailbox.last(user.email)
    assert told["Subject"] == "Your Acme Cloud password was changed"


def test_unknown_address_gets_the_same_answer_and_no_mail(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, new_email: str) -> None:
    known = provider_m.user(email=new_email)
    client_id, _ = provider_m.client(name="Acme app", first_party=True)
    page = browser.get(f"/authorize?client_id={client_id}&response_type=code&scope=openid"
                       "&redirect_uri=https://rp.example.com/callback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbu"
                       "GJSstw-cM&code_challenge_method=S256")
    unknown = "nobody-" + new_email
    answers = [forgot(browser, page, address) for address in (known.email, unknown)]
    assert answers[0].status_code == answers[1].status_code == 200
    # The pages differ only in the address and in each response's own CSP nonce.
    pages = [re.sub(r'nonce="[^"]*"', "", answer.text).replace(address, "X")
             for answer, address in zip(answers, (known.email, unknown), strict=True)]
    assert pages[0] == pages[1]
    assert len(mailbox.messages(known.email)) == 1
    assert mailbox.messages(unknown) == []


def test_the_answer_leaves_before_any_work_on_the_address(
        provider_m: Provider, mailbox: Mailbox, new_email: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A known address costs a link and a mail, an unknown one nothing: both schedule the same call, done after
    the answer, so the answer's time does not tell them apart."""
    known, unknown = provider_m.user(email=new_email), "nobody-" + new_email
    gate, scheduled = threading.Event(), []
    real = recovery.request_reset

    def held(*args: Any, **kwargs: Any) -> bool:
        scheduled.append(args[2])
        assert gate.wait(timeout=30)
        return real(*args, **kwargs)

    monkeypatch.setattr(recovery, "request_reset", held)
    try:
        with httpx.Client(base_url=provider_m.url, timeout=10) as client:
            form = client.get("/password/forgot")
            answers = [client.post("/password/forgot", data={"csrf_token": hidden(form.text, "csrf_token"),
                                                             "email": email}) for email in (known.email, unknown)]
        with provider_m.context.factory() as db:  # answered, and nothing done yet
            assert db.scalar(select(AccountToken).where(AccountToken.user_id == known.id)) is None
    finally:
        gate.set()
    assert PENDING.settle()
    assert scheduled == [known.email, unknown]
    assert [a.status_code for a in answers] == [200, 200]
    assert mailbox.link(known.email, "/password/reset").startswith("/password/reset?token=")
    assert mailbox.messages(unknown) == []


def test_expired_link_is_refused(provider_m: Provider, mailbox: Mailbox, browser: httpx.Client,
                                 new_email: str) -> None:
    user = provider_m.user(email=new_email)
    form = browser.get("/password/forgot")
    browser.post("/password/forgot", data={"csrf_token": hidden(form.text, "csrf_token"), "email": user.email})
    link = mailbox.link(user.email, "/password/reset")
    provider_m.clock.advance(31 * 60)
    page = browser.get(link)
    assert page.status_code == 400 and "expired" in page.text


def test_forms_without_csrf_are_refused(browser: httpx.Client) -> None:
    assert browser.post("/password/forgot", data={"email": "a@example.com"}).status_code == 403
    assert browser.post("/password/reset", data={"token": "x", "password": NEW_PASSWORD,
                                                 "repeat": NEW_PASSWORD}).status_code == 403


def admin_token(provider: Provider) -> str:
    client_id, secret = provider.client(name="ops", grant_types=["client_credentials"], admin=True, scope="admin")
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": "admin"},
                          auth=(client_id, secret or ""))
    token: str = response.json()["access_token"]
    return token


def test_operator_sends_a_reset_and_marks_an_address_verified_by_the_admin_api(
        provider_m: Provider, mailbox: Mailbox, new_email: str) -> None:
    user = provider_m.user(email=new_email)
    headers = {"Authorization": f"Bearer {admin_token(provider_m)}"}
    api = f"{provider_m.url}/admin/api/v1/accounts/{user.id}"
    sent = httpx.post(f"{api}/password-reset", headers=headers)
    assert sent.status_code == 200 and sent.json()["email_verified"] is False
    assert mailbox.link(user.email, "/password/reset").startswith("/password/reset?token=")
    verified = httpx.patch(api, headers=headers, json={"email_verified": True})
    assert verified.json()["email_verified"] is True
    weak = httpx.patch(api, headers=headers, json={"password": "password123"})
    assert weak.status_code == 400 and weak.json()["field"] == "password"
    httpx.post(f"{api}/disable", headers=headers)
    refused = httpx.post(f"{api}/password-reset", headers=headers)
    assert refused.status_code == 400 and "disabled" in refused.json()["error_description"]


def test_reset_requests_are_throttled_per_client_address_with_the_same_answer(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, new_email: str) -> None:
    user = provider_m.user(email=new_email)
    throttle = provider_m.context.throttle
    limits = throttle.limits
    throttle.limits = dataclasses.replace(limits, reset_address=Limit("reset-address", 1, 600))
    try:
        form = browser.get("/password/forgot")
        answers = [browser.post("/password/forgot", data={"csrf_token": hidden(form.text, "csrf_token"),
                                                          "email": user.email}) for _ in range(3)]
    finally:
        throttle.limits = limits
    assert {a.status_code for a in answers} == {200}
    assert len({re.sub(r'nonce="[^"]*"', "", a.text) for a in answers}) == 1  # each page has its own nonce
    assert len(mailbox.messages(user.email)) == 1
    with provider_m.context.factory() as db:  # counted in SQL, where every worker and node reads it
        counted = db.scalar(select(ThrottleCount.count).where(ThrottleCount.key == "reset-address:127.0.0.1"))
    assert counted == 1  # the allowed request; the refused ones took nothing
