"""Self sign-up in each ``CANARY_SIGNUP`` mode, over real HTTP with mail through a real SMTP server: off (no
link, no page), open (an account usable once the mailed link is followed and a password chosen there), domains
(only addresses at the listed domains); an address with an account gets the same answer and its owner a mail;
a sign-up of someone else's address gains its author nothing; the answer leaves before any work on the
address; throttled."""

from __future__ import annotations

import dataclasses
import html
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from idp.accounts import signup
from idp.accounts.passwords import verify_password
from idp.accounts.service import find_user_by_email
from idp.accounts.throttle import Limit, Throttle, Throttled
from idp.web.after_response import PENDING
from tests.functional.accounts.conftest import Mailbox, mailing_provider, unique_email
from tests.functional.conftest import Provider
from tests.support.browser import hidden, login, redirect_params
from tests.support.relying_party import RelyingParty

PASSWORD = "my own long passphrase"
ATTACKER_PASSWORD = "mallory's chosen passphrase"


@pytest.fixture(scope="module", params=["off", "open", "domains:acme.test,acme.example"])
def mailing(request: pytest.FixtureRequest, database_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Mailbox]]:
    with mailing_provider(database_url, tmp_path_factory.mktemp("signup"), signup=request.param) as pair:
        yield pair


def sign_up(browser: httpx.Client, login_page: httpx.Response, email: str, **extra: str) -> httpx.Response:
    link = re.search(r'href="([^"]*)">Create an account', login_page.text)
    assert link, login_page.text
    form = browser.get(html.unescape(link.group(1)))
    assert form.status_code == 200, form.text
    assert 'name="password"' not in form.text  # the password is chosen on the mailed link's page
    return browser.post("/signup", data={"csrf_token": hidden(form.text, "csrf_token"),
                                         "authorization_request": hidden(form.text, "authorization_request"),
                                         "email": email, **extra})


def post_sign_up(browser: httpx.Client, email: str, **extra: str) -> httpx.Response:
    form = browser.get("/signup")
    return browser.post("/signup", data={"csrf_token": hidden(form.text, "csrf_token"), "email": email, **extra})


def confirm(browser: httpx.Client, link: str, name: str = "Grace Hopper", password: str = PASSWORD,
            repeat: str | None = None) -> httpx.Response:
    page = browser.get(link)
    if page.status_code != 200:
        return page
    assert 'name="password"' in page.text, page.text
    return browser.post("/email/verify", data={"csrf_token": hidden(page.text, "csrf_token"),
                                               "token": hidden(page.text, "token"),
                                               "authorization_request": hidden(page.text, "authorization_request"),
                                               "name": name, "password": password,
                                               "repeat": password if repeat is None else repeat})


def mode(provider: Provider) -> str:
    return provider.settings.signup


def address(prefix: str) -> str:
    """An address every mode that signs up takes."""
    return unique_email(prefix).replace("example.com", "acme.test")


def test_sign_up_as_the_mode_says(provider_m: Provider, mailbox: Mailbox, browser: httpx.Client) -> None:
    client_id, secret = provider_m.client(name="Acme app", first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    page = browser.get(rp.authorization_url())
    if mode(provider_m) == "off":
        assert "Create an account" not in page.text and "Forgot password?" in page.text
        assert browser.get("/signup").status_code == 404
        assert browser.post("/signup", data={"email": "a@acme.test"}).status_code == 404
        return
    email = address("grace")
    created = sign_up(browser, page, email)
    assert created.status_code == 200 and "We sent a link" in created.text
    message = mailbox.last(email)
    assert message["Subject"] == "Confirm your e-mail address for Acme Cloud"
    assert "choose your name and password" in mailbox.text(message)
    # Not usable before the link is followed: the account has no password.
    assert "Wrong e-mail or password" in login(browser, browser.get(rp.authorization_url()), email, PASSWORD).text
    confirmed = confirm(browser, mailbox.link(email, "/email/verify"))
    assert "Account ready" in confirmed.text
    back = re.search(r'href="(/authorize\?[^"]+)"', confirmed.text)
    assert back, confirmed.text
    code = redirect_params(login(browser, browser.get(html.unescape(back.group(1))), email, PASSWORD))["code"]
    rp.tokens(code)
    info = rp.userinfo()
    assert info["email"] == email and info["email_verified"] is True and info["name"] == "Grace Hopper"

    # The same address again: the same answer, and the owner is told instead.
    with httpx.Client(base_url=provider_m.url, timeout=30) as stranger:
        again = sign_up(stranger, stranger.get(rp.authorization_url()), email)
    assert again.status_code == 200 and "We sent a link" in again.text
    assert "already has one" in mailbox.text(mailbox.last(email))


def test_a_sign_up_of_someone_elses_address_does_not_choose_its_password(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client) -> None:
    """Account pre-hijacking: the owner signs up, someone else signs the same address up again (with a password
    of their own in the form); the newest link, which the owner follows, makes the account the owner's."""
    if mode(provider_m) == "off":
        assert browser.get("/signup").status_code == 404
        return
    client_id, secret = provider_m.client(name="Acme app", first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    email = address("victim")
    assert post_sign_up(browser, email).status_code == 200
    first_link = mailbox.link(email, "/email/verify")
    with httpx.Client(base_url=provider_m.url, timeout=30) as attacker:
        again = post_sign_up(attacker, email, name="Mallory", password=ATTACKER_PASSWORD, repeat=ATTACKER_PASSWORD)
        assert again.status_code == 200 and "We sent a link" in again.text
        newest_link = mailbox.link(email, "/email/verify")
        assert newest_link != first_link
        # Nothing the second sign-up sent reached the account.
        with provider_m.context.factory() as db:
            waiting = find_user_by_email(db, email)
            assert waiting is not None and waiting.password_hash is None and waiting.name == ""

        assert "Link expired" in browser.get(first_link).text  # only the newest mail's link works
        assert "Account ready" in confirm(browser, newest_link, name="Victor Owner").text

        refused = login(attacker, attacker.get(rp.authorization_url()), email, ATTACKER_PASSWORD)
        assert "Wrong e-mail or password" in refused.text
    with provider_m.context.factory() as db:
        user = find_user_by_email(db, email)
        assert user is not None and user.email_verified and user.name == "Victor Owner"
        assert verify_password(user.password_hash, PASSWORD)
        assert not verify_password(user.password_hash, ATTACKER_PASSWORD)
    assert redirect_params(login(browser, browser.get(rp.authorization_url()), email, PASSWORD))["code"]


def test_the_links_page_takes_a_password_under_the_rules_and_works_once(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client) -> None:
    if mode(provider_m) == "off":
        assert browser.get("/email/verify?token=x").status_code == 400
        return
    email = address("ada")
    post_sign_up(browser, email)
    link = mailbox.link(email, "/email/verify")
    page = browser.get(link)
    assert "Finish creating your account" in page.text and email in page.text
    # Without its CSRF token the form is refused.
    assert browser.post("/email/verify", data={"token": hidden(page.text, "token"), "name": "Ada",
                                               "password": PASSWORD, "repeat": PASSWORD}).status_code == 403
    for name, password, repeat, why in [("Ada", "", "", "Enter your name and a password"),
                                        ("", PASSWORD, PASSWORD, "Enter your name and a password"),
                                        ("Ada", PASSWORD, "something else", "differ"),
                                        ("Ada", "short", "short", "at least 10 characters"),
                                        ("Ada", "password123", "password123", "most common"),
                                        ("Ada", email, email, "e-mail address or your name")]:
        refused = confirm(browser, link, name=name, password=password, repeat=repeat)
        assert refused.status_code == 400 and why in refused.text, (why, refused.text)
    assert "Account ready" in confirm(browser, link, name="Ada").text
    again = browser.get(link)
    assert again.status_code == 400 and "Link expired" in again.text  # single use
    with provider_m.context.factory() as db:
        user = find_user_by_email(db, email)
        assert user is not None and verify_password(user.password_hash, PASSWORD) and user.name == "Ada"


def test_the_answer_leaves_before_any_work_on_the_address(
        provider_m: Provider, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether the address has an account changes the work (a mail to the owner, or an account, a link and a
    mail), not the answer nor its time: both addresses schedule the same call, done after the answer."""
    if mode(provider_m) == "off":
        return
    known, unknown = provider_m.user(email=address("known")).email, address("unknown")
    gate, scheduled = threading.Event(), []
    real = signup.sign_up

    def held(*args: Any, **kwargs: Any) -> None:
        scheduled.append(kwargs["email"])
        assert gate.wait(timeout=30)
        real(*args, **kwargs)

    monkeypatch.setattr(signup, "sign_up", held)
    try:
        with httpx.Client(base_url=provider_m.url, timeout=10) as client:
            answers = [post_sign_up(client, email) for email in (known, unknown)]
        with provider_m.context.factory() as db:  # answered, and nothing done yet
            assert find_user_by_email(db, unknown) is None
    finally:
        gate.set()
    assert PENDING.settle()
    assert scheduled == [known, unknown]
    assert [a.status_code for a in answers] == [200, 200]
    pages = [re.sub(r'nonce="[^"]*"', "", answer.text).replace(email, "X")
             for answer, email in zip(answers, (known, unknown), strict=True)]
    assert pages[0] == pages[1]
    assert "already has one" in mailbox.text(mailbox.last(known))
    assert "choose your name and password" in mailbox.text(mailbox.last(unknown))


def test_only_the_domains_mode_refuses_other_domains(provider_m: Provider, mailbox: Mailbox,
                                                     browser: httpx.Client) -> None:
    if mode(provider_m) == "off":
        assert browser.get("/signup").status_code == 404
        return
    client_id, secret = provider_m.client(name="Acme app", first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    email = unique_email("eve").replace("example.com", "elsewhere.test")
    answer = sign_up(browser, browser.get(rp.authorization_url()), email)
    if mode(provider_m) == "open":
        assert answer.status_code == 200 and len(mailbox.messages(email)) == 1
    else:
        assert answer.status_code == 400 and "acme.test, acme.example only" in answer.text
        assert mailbox.messages(email) == []


def test_bad_addresses_and_bursts_are_refused(provider_m: Provider, mailbox: Mailbox,
                                              browser: httpx.Client) -> None:
    if mode(provider_m) == "off":
        assert browser.get("/signup").status_code == 404
        return
    bad = post_sign_up(browser, "not an address")
    assert bad.status_code == 400 and "Not an e-mail address" in bad.text
    throttle = provider_m.context.throttle
    limits = throttle.limits
    throttle.limits = dataclasses.replace(limits, signup_address=Limit("signup-address", 3, 600))
    burst = address("burst")
    try:
        for _ in range(2):  # the bad address above was the first attempt
            assert post_sign_up(browser, "").status_code == 400
        refused = post_sign_up(browser, burst)
        # Another node's throttle over the same database refuses too: the counter is in SQL.
        other_node = Throttle(throttle.limits)
        with provider_m.context.factory() as db, pytest.raises(Throttled):
            other_node.reserve(db, throttle.limits.signup("127.0.0.1"))
    finally:
        throttle.limits = limits
    assert refused.status_code == 429 and "try again in" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert mailbox.messages(burst) == []


def test_an_invited_address_is_not_taken_over_by_a_sign_up(provider_m: Provider, mailbox: Mailbox,
                                                           browser: httpx.Client) -> None:
    from idp.accounts import invitations
    from idp.accounts.service import create_organization
    from idp.db import transaction

    if mode(provider_m) == "off":
        assert browser.get("/signup").status_code == 404
        return
    email = address("invited")
    with transaction(provider_m.context.factory) as db:
        org = create_organization(db, slug=f"inv-{email[8:18]}")
        invitations.invite(provider_m.context.accounts, db, email=email, organization=org)
    answer = post_sign_up(browser, email, name="Mallory", password=PASSWORD, repeat=PASSWORD)
    assert answer.status_code == 200 and "We sent a link" in answer.text
    assert "already has one" in mailbox.text(mailbox.last(email))
    with provider_m.context.factory() as db:
        user = find_user_by_email(db, email)
        assert user is not None and user.name == "" and user.password_hash is None
