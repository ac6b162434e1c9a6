"""Users in the console: search, one account's page, disable and enable (through the same owner as the admin
API: sessions end, tokens stop working and do not come back)."""

from __future__ import annotations

import secrets

import httpx

from idp.accounts.models import User
from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, login, sign_in
from tests.support.console import Console, errors, notices
from tests.support.tokens import exchange


def test_search_finds_accounts_by_email_or_name(provider: Provider, console: Console) -> None:
    tag = secrets.token_hex(4)
    ada = provider.user(email=f"ada-{tag}@example.com", name=f"Ada {tag}", organization=f"org-{tag}")
    provider.user(email=f"bob-{tag}@example.com", name="Bob")
    page = console.get("/console/users", q=f"ada-{tag}")
    assert page.status_code == 200 and ada.email in page.text and f"bob-{tag}" not in page.text
    assert f"org-{tag}" in page.text  # the organizations column
    by_name = console.get("/console/users", q=f"Ada {tag}".upper())
    assert ada.email in by_name.text and "1 account matching" in by_name.text
    assert "No account matches." in console.get("/console/users", q=f"nobody-{tag}").text
    assert console.get("/console/users", offset="x").status_code == 200  # a bad offset is the first page


def test_search_pages_through_many_accounts(provider: Provider, console: Console) -> None:
    tag = secrets.token_hex(4)
    for index in range(52):
        provider.user(email=f"many-{tag}-{index:02d}@example.com")
    first = console.get("/console/users", q=f"many-{tag}")
    assert "52 accounts" in first.text and "Next →" in first.text and "many-" + tag + "-51" not in first.text
    second = console.get("/console/users", q=f"many-{tag}", offset="50")
    assert f"many-{tag}-51" in second.text and "← Previous" in second.text


def test_an_account_page_shows_profile_memberships_and_actions(provider: Provider, console: Console) -> None:
    tag = secrets.token_hex(4)
    user = provider.user(name=f"Grace {tag}", organization=f"team-{tag}")
    page = console.get(f"/console/users/{user.id}")
    assert page.status_code == 200 and f"Grace {tag}" in page.text and f"team-{tag}" in page.text
    assert 'id="account-actions"' in page.text and "Disable account" in page.text
    assert console.get("/console/users/nobody").status_code == 404
    assert "no account nobody" in errors(console.get("/console/users/nobody"))


def test_disable_ends_sessions_and_tokens_and_enable_lets_the_account_back(provider: Provider,
                                                                             console: Console) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    with httpx.Client(base_url=provider.url) as browser:
        issued = exchange(provider, client_id, secret, sign_in(browser, authorize_params(client_id), user.email)
                          ["code"]).json()
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}
        assert httpx.get(f"{provider.url}/userinfo", headers=bearer).status_code == 200

        done = console.post(f"/console/users/{user.id}/disable")
        assert done.status_code == 303 and done.headers["location"] == f"/console/users/{user.id}?done=disabled"
        page = console.get(done.headers["location"])
        assert "The account is disabled" in notices(page)[0] and "Enable account" in page.text
        assert httpx.get(f"{provider.url}/userinfo", headers=bearer).status_code == 401
        form = browser.get("/authorize", params=authorize_params(client_id))
        assert 'name="password"' in form.text  # the session ended
        assert 'name="password"' in login(browser, form, user.email).text  # and sign-in is refused

        assert console.post(f"/console/users/{user.id}/enable").status_code == 303
        with provider.context.factory() as db:
            stored = db.get(User, user.id)
            assert stored is not None and stored.disabled is False
        assert httpx.get(f"{provider.url}/userinfo", headers=bearer).status_code == 401  # old tokens stay revoked
        assert "code" in sign_in(browser, authorize_params(client_id), user.email)


def test_disable_without_the_csrf_token_changes_nothing(provider: Provider, console: Console) -> None:
    user = provider.user()
    refused = console.post(f"/console/users/{user.id}/disable", csrf=False)
    assert refused.status_code == 403 and "nothing was changed" in errors(refused)[0]
    forged = console.http.post(f"/console/users/{user.id}/disable", data={"csrf_token": "x" * 32})
    assert forged.status_code == 403
    with provider.context.factory() as db:
        stored = db.get(User, user.id)
        assert stored is not None and stored.disabled is False


def test_disabling_an_unknown_account_is_shown_not_a_500(console: Console) -> None:
    page = console.post("/console/users/nobody/disable")
    assert page.status_code == 404 and "no account nobody" in errors(page)


def test_an_operator_resets_second_factors(provider: Provider, console: Console) -> None:
    import pyotp

    from idp.accounts.factors import policy, recovery, totp
    from idp.db import transaction

    user = provider.user()
    now = provider.clock.now()
    with transaction(provider.context.factory) as db:
        stored = db.get(User, user.id)
        assert stored is not None
        secret = totp.start_enrollment(db, stored, provider.settings.key_encryption_key, now)
        assert totp.confirm(db, user.id, pyotp.TOTP(secret).at(now), provider.settings.key_encryption_key, now)
        recovery.replace_codes(db, user.id, now)
    page = console.get(f"/console/users/{user.id}")
    assert "Authenticator app: set up · passkeys: 0 · unused recovery codes: 10" in page.text
    reset = console.post(f"/console/users/{user.id}/factors/reset")
    assert reset.headers["location"] == f"/console/users/{user.id}?done=factors-reset"
    after = console.get(reset.headers["location"])
    assert "Authenticator app: none · passkeys: 0 · unused recovery codes: 0" in after.text
    assert "Reset second factors" not in after.text
    with provider.context.factory() as db:
        assert policy.factors_of(db, user.id) == policy.Factors(totp=False, passkeys=0, recovery_codes=0)
    assert console.post("/console/users/nobody/factors/reset").status_code == 404
