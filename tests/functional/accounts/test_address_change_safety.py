"""A change of address asked for on ``/account`` cannot outlive a new password, and a reset link cannot outlive
the address it was mailed to: over real HTTP, with mail through a real SMTP server."""

from __future__ import annotations

import httpx

from tests.functional.accounts.conftest import Mailbox, unique_email
from tests.functional.conftest import Provider
from tests.support.account_page import open_account, post
from tests.support.browser import PASSWORD, hidden, login, redirect_params
from tests.support.password_reset import NEW_PASSWORD, choose, forgot
from tests.support.relying_party import RelyingParty


def _confirm(client: httpx.Client, link: str) -> httpx.Response:
    page = client.get(link)
    if page.status_code != 200:
        return page
    return client.post("/email/verify", data={"csrf_token": hidden(page.text, "csrf_token"),
                                              "token": hidden(page.text, "token")})


def test_a_reset_cancels_a_move_asked_for_with_the_old_password(provider_m: Provider, mailbox: Mailbox,
                                                                  browser: httpx.Client) -> None:
    owner = provider_m.user(email=unique_email("owner"), name="Owner")
    taker = unique_email("taker")
    page = open_account(browser, owner.email)  # whoever holds the password, signed in
    assert post(browser, page, "/account/email", email=taker, password=PASSWORD).status_code == 303
    told = mailbox.last(owner.email)
    assert told["Subject"] == "A change of your Acme Cloud e-mail address was asked for"
    assert taker in mailbox.text(told) and "reset your password" in mailbox.text(told)
    move = mailbox.link(taker, "/email/verify")

    client_id, secret = provider_m.client(first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    with httpx.Client(base_url=provider_m.url, timeout=30) as own:
        forgot(own, own.get(rp.authorization_url()), owner.email)
        assert choose(own, mailbox.link(owner.email, "/password/reset"), NEW_PASSWORD).status_code == 200
    assert browser.get("/account").status_code == 302  # signed out by the reset

    with httpx.Client(base_url=provider_m.url, timeout=30) as fresh:
        refused = _confirm(fresh, move)
        assert refused.status_code == 400 and "expired or was already used" in refused.text
    with httpx.Client(base_url=provider_m.url, timeout=30) as own:
        assert owner.email in open_account(own, owner.email, NEW_PASSWORD).text  # the address stayed


def test_a_password_change_cancels_a_pending_move(provider_m: Provider, mailbox: Mailbox,
                                                  browser: httpx.Client) -> None:
    owner = provider_m.user(email=unique_email("changer"), name="Changer")
    elsewhere = unique_email("elsewhere")
    page = open_account(browser, owner.email)
    assert post(browser, page, "/account/email", email=elsewhere, password=PASSWORD).status_code == 303
    move = mailbox.link(elsewhere, "/email/verify")
    changed = post(browser, page, "/account/password", current=PASSWORD, password=NEW_PASSWORD,
                   repeat=NEW_PASSWORD)
    assert changed.status_code == 303
    assert _confirm(browser, move).status_code == 400
    assert owner.email in browser.get("/account").text


def test_a_reset_link_mailed_to_the_old_address_dies_with_the_move(provider_m: Provider, mailbox: Mailbox,
                                                                    browser: httpx.Client) -> None:
    owner = provider_m.user(email=unique_email("mover"), name="Mover")
    client_id, secret = provider_m.client(first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    with httpx.Client(base_url=provider_m.url, timeout=30) as old_mailbox_reader:
        forgot(old_mailbox_reader, old_mailbox_reader.get(rp.authorization_url()), owner.email)
    stale = mailbox.link(owner.email, "/password/reset")

    new = unique_email("moved")
    page = open_account(browser, owner.email)
    assert post(browser, page, "/account/email", email=new, password=PASSWORD).status_code == 303
    assert "Address confirmed" in _confirm(browser, mailbox.link(new, "/email/verify")).text

    with httpx.Client(base_url=provider_m.url, timeout=30) as old_mailbox_reader:
        assert choose(old_mailbox_reader, stale, NEW_PASSWORD).status_code == 400
        signed_in = login(old_mailbox_reader, old_mailbox_reader.get(rp.authorization_url()), new, PASSWORD)
        assert redirect_params(signed_in)["code"]  # the password is the one the owner had
