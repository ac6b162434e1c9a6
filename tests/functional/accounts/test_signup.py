"""Self sign-up in each ``CANARY_SIGNUP`` mode, over real HTTP with mail through a real SMTP server: off (no
link, no page), open (an account usable once its address is verified from the mail), domains (only addresses
at the listed domains); an address with an account gets the same answer and its owner a mail; throttled."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator

import httpx
import pytest

from idp.accounts.throttle import Limit, Throttle, Throttled
from tests.functional.accounts.conftest import Mailbox, mailing_provider, unique_email
from tests.functional.conftest import Provider
from tests.support.browser import hidden, login, redirect_params
from tests.support.relying_party import RelyingParty

PASSWORD = "my own long passphrase"


@pytest.fixture(scope="module", params=["off", "open", "domains:acme.test,acme.example"])
def mailing(request: pytest.FixtureRequest, database_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Mailbox]]:
    with mailing_provider(database_url, tmp_path_factory.mktemp("signup"), signup=request.param) as pair:
        yield pair


def sign_up(browser: httpx.Client, login_page: httpx.Response, email: str, name: str = "Grace Hopper",
            password: str = PASSWORD) -> httpx.Response:
    link = re.search(r'href="([^"]*)">Create an account', login_page.text)
    assert link, login_page.text
    form = browser.get(html.unescape(link.group(1)))
    assert form.status_code == 200, form.text
    return browser.post("/signup", data={"csrf_token": hidden(form.text, "csrf_token"),
                                         "authorization_request": hidden(form.text, "authorization_request"),
                                         "name": name, "email": email, "password": password, "repeat": password})


def confirm(browser: httpx.Client, link: str) -> httpx.Response:
    page = browser.get(link)
    assert page.status_code == 200, page.text
    return browser.post("/email/verify", data={"csrf_token": hidden(page.text, "csrf_token"),
                                               "token": hidden(page.text, "token"),
                                               "authorization_request": hidden(page.text, "authorization_request")})


def mode(provider: Provider) -> str:
    return provider.settings.signup


def test_sign_up_as_the_mode_says(provider_m: Provider, mailbox: Mailbox, browser: httpx.Client) -> None:
    client_id, secret = provider_m.client(name="Acme app", first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    page = browser.get(rp.authorization_url())
    if mode(provider_m) == "off":
        assert "Create an account" not in page.text and "Forgot password?" in page.text
        assert browser.get("/signup").status_code == 404
        assert browser.post("/signup", data={"email": "a@acme.test"}).status_code == 404
        return
    email = unique_email("grace").replace("example.com", "acme.test")
    created = sign_up(browser, page, email)
    assert created.status_code == 200 and "We sent a link" in created.text
    # Not usable before the address is verified.
    assert "Wrong e-mail or password" in login(browser, browser.get(rp.authorization_url()), email, PASSWORD).text
    message = mailbox.last(email)
    assert message["Subject"] == "Confirm your e-mail address for Acme Cloud"
    confirmed = confirm(browser, mailbox.link(email, "/email/verify"))
    assert "Address confirmed" in confirmed.text
    back = re.search(r'href="(/authorize\?[^"]+)"', confirmed.text)
    assert back, confirmed.text
    code = redirect_params(login(browser, browser.get(html.unescape(back.group(1))), email, PASSWORD))["code"]
    rp.tokens(code)
    info = rp.userinfo()
    assert info["email"] == email and info["email_verified"] is True and info["name"] == "Grace Hopper"

    # The same address again: the same answer, and the owner is told instead.
    with httpx.Client(base_url=provider_m.url, timeout=30) as stranger:
        again = sign_up(stranger, stranger.get(rp.authorization_url()), email, name="Mallory")
    assert again.status_code == 200 and "We sent a link" in again.text
    assert "already has one" in mailbox.text(mailbox.last(email))


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


def test_weak_passwords_and_bursts_are_refused(provider_m: Provider, browser: httpx.Client) -> None:
    if mode(provider_m) == "off":
        assert browser.get("/signup").status_code == 404
        return
    form = browser.get("/signup")
    data = {"csrf_token": hidden(form.text, "csrf_token"), "name": "Bob", "email": "bob@acme.test"}
    weak = browser.post("/signup", data={**data, "password": "qwertyuiop", "repeat": "qwertyuiop"})
    assert weak.status_code == 400 and "most common" in weak.text
    throttle = provider_m.context.throttle
    limits = throttle.limits
    throttle.limits = dataclasses.replace(limits, signup_address=Limit("signup-address", 3, 600))
    try:
        for _ in range(2):  # the weak password above was the first attempt
            assert browser.post("/signup", data={**data, "password": "x", "repeat": "y"}).status_code == 400
        refused = browser.post("/signup", data={**data, "password": "x", "repeat": "y"})
        # Another node's throttle over the same database refuses too: the counter is in SQL.
        other_node = Throttle(throttle.limits)
        with provider_m.context.factory() as db, pytest.raises(Throttled):
            other_node.reserve(db, throttle.limits.signup("127.0.0.1"))
    finally:
        throttle.limits = limits
    assert refused.status_code == 429 and "try again in" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 600


def test_an_invited_address_is_not_taken_over_by_a_sign_up(provider_m: Provider, mailbox: Mailbox,
                                                           browser: httpx.Client) -> None:
    from idp.accounts import invitations
    from idp.accounts.service import create_organization, find_user_by_email
    from idp.db import transaction

    if mode(provider_m) == "off":
        assert browser.get("/signup").status_code == 404
        return
    email = unique_email("invited").replace("example.com", "acme.test")
    with transaction(provider_m.context.factory) as db:
        org = create_organization(db, slug=f"inv-{email[8:18]}")
        invitations.invite(provider_m.context.accounts, db, email=email, organization=org)
    form = browser.get("/signup")
    answer = browser.post("/signup", data={"csrf_token": hidden(form.text, "csrf_token"), "name": "Mallory",
                                           "email": email, "password": PASSWORD, "repeat": PASSWORD})
    assert answer.status_code == 200 and "We sent a link" in answer.text
    assert "already has one" in mailbox.text(mailbox.last(email))
    with provider_m.context.factory() as db:
        user = find_user_by_email(db, email)
        assert user is not None and user.name == "" and user.password_hash is None
