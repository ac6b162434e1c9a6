"""``/account`` over real HTTP with mail through a real SMTP server: sign-in through Canary, the name, an
e-mail change verified before it replaces the old address, a password change (current one required, other
sessions and tokens end), sessions signed out one by one or everywhere, applications revoked; CSRF on every form."""

from __future__ import annotations

import re

import httpx

from tests.functional.accounts.conftest import Mailbox, unique_email
from tests.functional.conftest import Provider
from tests.support.account_page import open_account, post
from tests.support.browser import PASSWORD, consent, hidden, login, redirect_params
from tests.support.relying_party import RelyingParty


def test_name_and_email_change_with_verification(provider_m: Provider, mailbox: Mailbox,
                                                  browser: httpx.Client) -> None:
    user = provider_m.user(email=unique_email("ada"), name="Ada")
    page = open_account(browser, user.email)
    assert user.email in page.text and 'id="sessions"' in page.text and 'id="applications"' in page.text
    for path in ("/account/name", "/account/email", "/account/password", "/account/sessions/end",
                 "/account/sessions/end-all", "/account/applications/revoke"):
        assert browser.post(path, data={"name": "x"}).status_code == 403, path
    assert post(browser, page, "/account/name", name="Ada Lovelace").status_code == 303
    assert 'value="Ada Lovelace"' in browser.get("/account").text

    new = unique_email("ada-new")
    assert post(browser, page, "/account/email", email=new, password="wrong password!").status_code == 400
    assert post(browser, page, "/account/email", email=new, password=PASSWORD).status_code == 303
    assert user.email in browser.get("/account").text  # the old address stays until the new one is proven
    link = mailbox.link(new, "/email/verify")
    confirm = browser.get(link)
    done = browser.post("/email/verify", data={"csrf_token": hidden(confirm.text, "csrf_token"),
                                               "token": hidden(confirm.text, "token")})
    assert "Address confirmed" in done.text
    after = browser.get("/account").text
    assert new in after and "(verified)" in after
    told = mailbox.last(user.email)
    assert told["Subject"] == "Your Acme Cloud e-mail address was changed" and new in mailbox.text(told)
    with httpx.Client(base_url=provider_m.url, timeout=30) as other:
        assert new in open_account(other, new).text  # the new address signs in


def test_password_change_sessions_and_applications(provider_m: Provider, mailbox: Mailbox,
                                                   browser: httpx.Client) -> None:
    user = provider_m.user(email=unique_email("bob"), name="Bob")
    client_id, secret = provider_m.client(name="Third-party app", first_party=False)
    rp = RelyingParty(provider_m.url, client_id, secret)
    with httpx.Client(base_url=provider_m.url, timeout=30) as laptop:
        code = redirect_params(consent(laptop, login(laptop, laptop.get(rp.authorization_url()), user.email)))["code"]
        tokens = rp.tokens(code)
        page = open_account(browser, user.email)
        assert "Third-party app" in page.text
        assert len(re.findall(r'name="sid"', page.text)) == 2 and "(this browser)" in page.text

        # Sign the laptop out from here.
        sids = re.findall(r'name="sid" value="([^"]+)"', page.text)
        current = re.search(r'\(this browser\)\s*<form[^>]*>\s*<input[^>]*>\s*<input type="hidden" name="sid" '
                            r'value="([^"]+)"', page.text)
        assert current
        other_sid = next(sid for sid in sids if sid != current.group(1))
        assert post(browser, page, "/account/sessions/end", sid=other_sid).status_code == 303
        assert laptop.get("/account").status_code == 302  # signed out there
        assert post(browser, page, "/account/sessions/end", sid="not-a-session").status_code == 400

        # Revoke the application: its refresh token stops working.
        assert post(browser, page, "/account/applications/revoke", client_id=client_id).status_code == 303
        assert rp.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
        assert "Third-party app" not in browser.get("/account").text

        # Change the password: the current one is required; this session stays.
        wrong = post(browser, page, "/account/password", current="not it at all", password="another long one",
                     repeat="another long one")
        assert wrong.status_code == 400 and "current password is wrong" in wrong.text
        weak = post(browser, page, "/account/password", current=PASSWORD, password="1234567890",
                    repeat="1234567890")
        assert weak.status_code == 400
        changed = post(browser, page, "/account/password", current=PASSWORD, password="another long one",
                       repeat="another long one")
        assert changed.status_code == 303
        assert "password was changed" in browser.get("/account?done=password").text
        assert mailbox.last(user.email)["Subject"] == "Your Acme Cloud password was changed"

        # Everywhere, this browser included.
        assert post(browser, page, "/account/sessions/end-all").status_code == 303
        assert browser.get("/account").status_code == 302
