"""``/account`` against someone holding only a session, over real HTTP with mail through a real SMTP server: the
current password asked by the e-mail and password forms counts toward the lockout; an address that has an
account is answered as a free one and its owner told; the password-changed mail names the second factors that
stay (a new password does not remove them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from idp.accounts import recovery
from idp.db import transaction
from tests.functional.accounts.conftest import Mailbox, mailing_provider, unique_email
from tests.functional.conftest import Provider
from tests.support.account_page import open_account, post
from tests.support.browser import PASSWORD, authorize_params, hidden, login
from tests.support.factors import enroll_totp

NEW_PASSWORD = "a brand new passphrase"


def test_wrong_current_passwords_on_the_account_page_lock_the_account(provider_m: Provider, mailbox: Mailbox,
                                                                      browser: httpx.Client) -> None:
    user = provider_m.user(email=unique_email("guessed"))
    page = open_account(browser, user.email)
    for attempt in range(provider_m.settings.login_max_failures):
        if attempt % 2:
            wrong = post(browser, page, "/account/password", current=f"guess {attempt} at it",
                         password=NEW_PASSWORD, repeat=NEW_PASSWORD)
        else:
            wrong = post(browser, page, "/account/email", email=unique_email(), password=f"guess {attempt} at it")
        assert wrong.status_code == 400 and "password is wrong" in wrong.text, wrong.text
    locked = post(browser, page, "/account/email", email=unique_email(), password=PASSWORD)
    assert locked.status_code == 400 and "locked" in locked.text, "the right password does not help while locked"
    assert post(browser, page, "/account/password", current=PASSWORD, password=NEW_PASSWORD,
                repeat=NEW_PASSWORD).status_code == 400
    assert mailbox.last(user.email)["Subject"] == "Your Acme Cloud account was locked"
    client_id, _ = provider_m.client(first_party=True)
    with httpx.Client(base_url=provider_m.url, timeout=30) as fresh:
        refused = login(fresh, fresh.get("/authorize", params=authorize_params(client_id)), user.email)
        assert refused.status_code == 200 and "Wrong e-mail or password" in refused.text


def test_an_address_with_an_account_gets_the_answer_of_a_free_one(provider_m: Provider, mailbox: Mailbox,
                                                                   browser: httpx.Client) -> None:
    user = provider_m.user(email=unique_email("mover"))
    taken = provider_m.user(email=unique_email("owner"))
    page = open_account(browser, user.email)
    free = post(browser, page, "/account/email", email=unique_email("free"), password=PASSWORD)
    answer = post(browser, page, "/account/email", email=taken.email.upper(), password=PASSWORD)
    assert (answer.status_code, answer.headers["location"]) == (free.status_code, free.headers["location"])
    assert answer.headers["location"] == "/account?done=email"
    [notice] = mailbox.messages(taken.email)
    assert notice["Subject"] == "Someone asked to move another Acme Cloud account to your address"
    assert "Nothing was changed" in mailbox.text(notice) and "/email/verify" not in mailbox.text(notice)
    assert user.email in browser.get("/account").text


@pytest.fixture
def own_mailing(database_url: str, tmp_path: Path) -> Iterator[tuple[Provider, Mailbox]]:
    """A mailing provider of the test's own: enrolling an authenticator app moves its clock."""
    with mailing_provider(database_url, tmp_path) as pair:
        yield pair


def test_the_password_changed_mail_names_the_second_factors_that_stay(own_mailing: tuple[Provider, Mailbox]
                                                                      ) -> None:
    provider, mailbox = own_mailing
    with_factor, without = provider.user(email=unique_email("factor")), provider.user(email=unique_email("plain"))
    security = f"{provider.url}/account/security"
    with httpx.Client(base_url=provider.url, timeout=30) as browser:
        page = open_account(browser, with_factor.email)
        enroll_totp(browser, provider.clock)
        changed = post(browser, page, "/account/password", current=PASSWORD, password=NEW_PASSWORD,
                       repeat=NEW_PASSWORD)
        assert changed.status_code == 303
    told = mailbox.last(with_factor.email)
    assert told["Subject"] == "Your Acme Cloud password was changed"
    assert "Still set up, and unchanged by a new password: an authenticator app." in " ".join(
        mailbox.text(told).split()) and security in mailbox.text(told)

    with transaction(provider.context.factory) as db:  # a reset link, as "Forgot password?" mails it
        assert recovery.request_reset(provider.context.accounts, db, with_factor.email)
    with httpx.Client(base_url=provider.url, timeout=30) as browser:
        form = browser.get(mailbox.link(with_factor.email, "/password/reset"))
        done = browser.post("/password/reset", data={"csrf_token": hidden(form.text, "csrf_token"),
                                                     "token": hidden(form.text, "token"),
                                                     "password": "yet another passphrase",
                                                     "repeat": "yet another passphrase"})
        assert done.status_code == 200, done.text
    told = mailbox.last(with_factor.email)
    assert told["Subject"] == "Your Acme Cloud password was changed" and "reset by e-mail" in mailbox.text(told)
    assert "an authenticator app" in mailbox.text(told) and security in mailbox.text(told)

    with httpx.Client(base_url=provider.url, timeout=30) as browser:
        page = open_account(browser, without.email)
        assert post(browser, page, "/account/password", current=PASSWORD, password=NEW_PASSWORD,
                    repeat=NEW_PASSWORD).status_code == 303
    plain = mailbox.text(mailbox.last(without.email))
    assert "was changed" in plain and "Still set up" not in plain and security not in plain
