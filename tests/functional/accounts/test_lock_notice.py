"""The owner of an account locked by wrong passwords is told by e-mail, once, through a real SMTP server; the
person guessing sees only "wrong e-mail or password"."""

from __future__ import annotations

import httpx

from tests.functional.accounts.conftest import Mailbox
from tests.functional.conftest import Provider
from tests.support.browser import login
from tests.support.relying_party import RelyingParty


def test_a_locked_account_is_told_by_mail_once(provider_m: Provider, mailbox: Mailbox, browser: httpx.Client,
                                               new_email: str) -> None:
    user = provider_m.user(email=new_email)
    client_id, secret = provider_m.client(name="Locked app", first_party=True)
    rp = RelyingParty(provider_m.url, client_id, secret)
    limit = provider_m.context.settings.login_max_failures
    for _ in range(limit + 2):  # past the lock: more wrong passwords change nothing more
        answer = login(browser, browser.get(rp.authorization_url()), user.email, "not the password at all")
        assert answer.status_code == 200 and "Wrong e-mail or password" in answer.text
        assert "is locked" not in answer.text
    notices = [m for m in mailbox.messages(user.email) if "was locked" in str(m["Subject"])]
    assert len(notices) == 1
    assert notices[0]["Subject"] == "Your Acme Cloud account was locked"
    body = mailbox.text(notices[0])
    assert user.email in body and "/password/forgot" in body
