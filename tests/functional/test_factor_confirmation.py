"""Changing second factors needs a recent sign-in, over real HTTP on SQLite and PostgreSQL: a session older than
the window is refused every change (forms and the passkey endpoints) until its owner confirms it is them — the
password, then a second factor when the account has one — which renews the session's authentication; wrong
passwords and codes there count toward the account's lockout; the owner is mailed about every change."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

import httpx

from idp.accounts.reauthentication import WINDOW
from tests.functional.conftest import Provider
from tests.support.browser import PASSWORD, authorize_params, login, redirect_params, sign_in
from tests.support.factors import enroll_totp, fresh_code, post_form, recovery_codes_on
from tests.support.tokens import exchange, id_claims

OLD = WINDOW.total_seconds() + 1
CONFIRM = "/account/security/confirm"
SECOND = CONFIRM + "/second-factor"


def mail_to(provider: Provider, to: str) -> list[EmailMessage]:
    """What the provider sent ``to``, in the order it was written (no SMTP here: the development outbox)."""
    provider.context.mail.sender.flush()
    found = [cast(EmailMessage, message_from_bytes(path.read_bytes(), policy=policy.default))
             for path in sorted(provider.settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)]
    return [message for message in found if message["To"] == to]


def subjects(provider: Provider, to: str) -> list[str]:
    return [str(message["Subject"]) for message in mail_to(provider, to)]


def signed_in(provider: Provider, http: httpx.Client) -> tuple[str, tuple[str, str | None]]:
    """A new user signed in with a password; returns the address and the first-party client."""
    user = provider.user()
    client = provider.client(first_party=True)
    sign_in(http, authorize_params(client[0]), user.email)
    return user.email, client


def test_an_old_session_confirms_with_password_and_code_before_a_change(clocked: Provider,
                                                                         clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    email, (client_id, client_secret) = signed_in(provider, http)
    secret, _ = enroll_totp(http, provider.clock)  # just signed in: no confirmation
    provider.clock.advance(OLD)

    page = http.get("/account/security")
    assert page.status_code == 200 and "Set up." in page.text and "data-confirm-needed" in page.text
    assert "/account/security/totp-remove" not in page.text and 'data-passkey="register"' not in page.text
    for action in ("totp-remove", "recovery-codes", "totp-start", "totp-confirm", "passkey-remove"):
        refused = post_form(http, f"/account/security/{action}", page, code="123456", passkey="x")
        assert refused.status_code == 303 and refused.headers["location"] == CONFIRM, action
    token = http.cookies.get("canary_csrf")
    for path in ("/account/security/passkeys/options", "/account/security/passkeys"):
        answer = http.post(path, json={"csrf_token": token, "credential": {"id": "x"}})
        assert answer.status_code == 403 and answer.json()["error"] == "confirmation_required", path
    assert "Set up." in http.get("/account/security").text and len(subjects(provider, email)) == 1

    confirm = http.get(CONFIRM)
    assert confirm.status_code == 200 and 'name="password"' in confirm.text
    wrong = post_form(http, CONFIRM, confirm, password="not my password at all")
    assert wrong.status_code == 400 and "The password is wrong." in wrong.text
    right = post_form(http, CONFIRM, wrong, password=PASSWORD)
    assert right.status_code == 303 and right.headers["location"] == SECOND
    assert "data-confirm-needed" in http.get("/account/security").text, "with a factor, the password is not enough"
    step = http.get(SECOND)
    assert step.status_code == 200 and 'value="totp"' in step.text and 'value="recovery"' in step.text
    bad = post_form(http, SECOND, step, method="totp", code="000000")
    assert bad.status_code == 400 and "not right" in bad.text
    done = post_form(http, SECOND, bad, method="totp", code=fresh_code(secret, provider.clock))
    assert done.status_code == 303 and done.headers["location"] == "/account/security"
    assert "canary_confirm" not in http.cookies

    # The confirmation is the session's authentication now: max_age counts from it, amr says how it was made.
    quiet = redirect_params(http.get("/authorize", params=authorize_params(client_id, max_age="60", prompt="none")))
    claims = id_claims(provider, exchange(provider, client_id, client_secret, quiet["code"]).json()["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"]

    page = http.get("/account/security")
    assert "data-confirm-needed" not in page.text
    assert post_form(http, "/account/security/totp-remove", page).status_code == 303
    assert "Not set up." in http.get("/account/security").text
    assert subjects(provider, email) == ["A second factor was added to your Canary account",
                                         "A second factor was removed from your Canary account"]


def test_without_a_second_factor_the_password_confirms(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    email, _ = signed_in(provider, http)
    provider.clock.advance(OLD)
    refused = post_form(http, "/account/security/totp-start", http.get("/account/security"))
    assert refused.headers["location"] == CONFIRM
    done = post_form(http, CONFIRM, http.get(CONFIRM), password=PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/account/security"
    _, codes = enroll_totp(http, provider.clock)
    fresh = post_form(http, "/account/security/recovery-codes", http.get("/account/security"))
    assert fresh.status_code == 200 and set(recovery_codes_on(fresh)).isdisjoint(codes)

    [added, remade] = mail_to(provider, email)
    assert added["Subject"] == "A second factor was added to your Canary account"
    text = str(cast(EmailMessage, added.get_body(("plain",))).get_content())
    assert "An authenticator app was set up" in text and f"{provider.url}/account/security" in text
    assert f"{provider.url}/password/forgot" in text
    assert remade["Subject"] == "New recovery codes for your Canary account"


def test_a_recovery_code_confirms_and_is_spent(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    signed_in(provider, http)
    _, codes = enroll_totp(http, provider.clock)
    provider.clock.advance(OLD)
    post_form(http, CONFIRM, http.get(CONFIRM), password=PASSWORD)
    done = post_form(http, SECOND, http.get(SECOND), method="recovery", code=codes[0])
    assert done.headers["location"] == "/account/security"
    assert "9 unused." in http.get("/account/security").text


def test_guesses_on_the_confirm_page_lock_the_account(clocked: Provider, clocked_http: httpx.Client) -> None:
    """Whoever holds only the session cookie gets as many password guesses as at the login form."""
    provider, http = clocked, clocked_http
    email, (client_id, _) = signed_in(provider, http)
    provider.clock.advance(OLD)
    page = http.get(CONFIRM)
    for attempt in range(provider.settings.login_max_failures):
        page = post_form(http, CONFIRM, page, password=f"guess number {attempt}")
        assert page.status_code == 400 and "The password is wrong." in page.text
    locked = post_form(http, CONFIRM, page, password=PASSWORD)
    assert locked.status_code == 400 and "locked" in locked.text, "the right password does not help while locked"
    assert "data-confirm-needed" in http.get("/account/security").text
    assert subjects(provider, email) == ["Your Canary account was locked"]
    with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as fresh:
        refused = login(fresh, fresh.get("/authorize", params=authorize_params(client_id)), email)
        assert refused.status_code == 200 and "Wrong e-mail or password" in refused.text


def test_wrong_codes_on_the_confirm_page_end_it_and_lock_the_account(clocked: Provider,
                                                                      clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    email, (client_id, _) = signed_in(provider, http)
    secret, _ = enroll_totp(http, provider.clock)
    provider.clock.advance(OLD)
    post_form(http, CONFIRM, http.get(CONFIRM), password=PASSWORD)
    page = http.get(SECOND)
    for attempt in range(provider.settings.login_max_failures):
        page = post_form(http, SECOND, page, method="totp", code=f"00000{attempt}")
        assert page.status_code == 400
    assert "Start again with your password" in page.text and 'name="password"' in page.text
    assert http.get(SECOND).status_code == 400, "the ceremony ended"
    with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as fresh:
        refused = login(fresh, fresh.get("/authorize", params=authorize_params(client_id)), email)
        assert "Wrong e-mail or password" in refused.text, "wrong codes locked the account"
    assert "Your Canary account was locked" in subjects(provider, email)
    late = post_form(http, SECOND, page, method="totp", code=fresh_code(secret, provider.clock))
    assert late.status_code == 400 and "data-confirm-needed" in http.get("/account/security").text


def test_the_confirm_endpoints_need_their_session_ceremony_and_csrf(clocked: Provider,
                                                                    clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as stranger:
        assert stranger.get(CONFIRM).status_code == 401
        assert stranger.get(SECOND).status_code == 401
    signed_in(provider, http)
    enroll_totp(http, provider.clock)
    provider.clock.advance(OLD)
    page = http.get(CONFIRM)
    assert http.post(CONFIRM, data={"csrf_token": "forged", "password": PASSWORD}).status_code == 403
    token = http.cookies.get("canary_csrf")
    no_ceremony = http.post(CONFIRM + "/passkey/options", json={"csrf_token": token})
    assert no_ceremony.status_code == 400 and "expired" in no_ceremony.json()["error_description"]
    assert http.get(SECOND).status_code == 400, "no second step before the password"
    post_form(http, CONFIRM, page, password=PASSWORD)
    forged = http.post(CONFIRM + "/passkey/options", json={"csrf_token": "forged"})
    assert forged.status_code == 403
    options = http.post(CONFIRM + "/passkey/options", json={"csrf_token": token})
    assert options.status_code == 200 and options.json()["allowCredentials"] == []
    answer = http.post(CONFIRM + "/passkey", json={"csrf_token": token, "credential": {"id": "x", "rawId": "x",
                                                                                       "response": {}}})
    assert answer.status_code == 400 and answer.json()["error"] == "access_denied"
    assert "data-confirm-needed" in http.get("/account/security").text
