"""Second factors over real HTTP on SQLite and PostgreSQL: enrolling an authenticator app from the security page,
the step after the password with TOTP and recovery codes, amr/acr in ID tokens, step-up with acr_values and
max_age, an organization's requirement, and the operator's reset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from idp.accounts.factors.levels import MULTI, SINGLE
from idp.accounts.models import TotpFactor, User
from tests.functional.conftest import Provider, start_provider
from tests.support.browser import authorize_params, login, redirect_params, sign_in
from tests.support.factors import (
    enroll_totp,
    follow_to_code,
    fresh_code,
    post_form,
    recovery_codes_on,
    second_factor,
    secret_on,
)
from tests.support.tokens import exchange, id_claims


def browser(provider: Provider) -> httpx.Client:
    return httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30)


def _with_authenticator_app(provider: Provider) -> tuple[User, tuple[str, str | None], str]:
    """A user who signed in once through a first-party client and set up an authenticator app; the user, the
    client and the app's secret."""
    user = provider.user()
    client = provider.client(first_party=True)
    with browser(provider) as http:
        sign_in(http, authorize_params(client[0]), user.email)
        secret, _ = enroll_totp(http, provider.clock)
    return user, client, secret


def claims_for(provider: Provider, client: tuple[str, str | None], back: dict[str, str]) -> dict:
    response = exchange(provider, client[0], client[1], back["code"])
    assert response.status_code == 200, response.text
    return id_claims(provider, response.json()["id_token"])


def test_discovery_lists_the_levels(provider: Provider, http: httpx.Client) -> None:
    assert http.get("/.well-known/openid-configuration").json()["acr_values_supported"] == [SINGLE, MULTI]


def test_a_password_alone_is_amr_pwd_at_the_single_factor_level(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client = provider.client(first_party=True)
    claims = claims_for(provider, client, sign_in(http, authorize_params(client[0]), user.email))
    assert claims["amr"] == ["pwd"] and claims["acr"] == SINGLE


def test_totp_and_recovery_codes_from_enrollment_to_sign_in(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    user = provider.user()
    client = provider.client(first_party=True)
    sign_in(http, authorize_params(client[0]), user.email)
    secret, codes = enroll_totp(http, provider.clock)
    assert "Set up." in http.get("/account/security").text

    with browser(provider) as fresh:
        after_password = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
        assert "canary_session" not in after_password.cookies, "no session before the second step"
        wrong = second_factor(fresh, after_password, "totp", "000000")
        assert wrong.status_code == 200 and "not right" in wrong.text
        done = post_form(fresh, "/login/second-factor", wrong, method="totp", code=fresh_code(secret, provider.clock))
        claims = claims_for(provider, client, redirect_params(follow_to_code(fresh, done)))
        assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == MULTI

    with browser(provider) as fresh:
        after_password = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
        done = second_factor(fresh, after_password, "recovery", codes[3].upper())
        back = redirect_params(follow_to_code(fresh, done))
        assert claims_for(provider, client, back)["amr"] == ["pwd", "otp", "mfa"]
        refresh = httpx.post(f"{provider.url}/token", auth=(client[0], client[1] or ""), data={
            "grant_type": "refresh_token", "refresh_token": exchange(
                provider, client[0], client[1], redirect_params(fresh.get(
                    "/authorize", params=authorize_params(client[0])))["code"]).json()["refresh_token"]})
        assert id_claims(provider, refresh.json()["id_token"])["acr"] == MULTI, "a refreshed ID token keeps acr"

    with browser(provider) as fresh:
        after_password = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
        again = second_factor(fresh, after_password, "recovery", codes[3])
        assert again.status_code == 200 and "not right" in again.text, "a recovery code works once"
    assert "9 unused." in http.get("/account/security").text


def test_wrong_codes_lock_the_account(clocked: Provider) -> None:
    provider = clocked
    user, client, secret = _with_authenticator_app(provider)
    with browser(provider) as fresh:
        response = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
        response = second_factor(fresh, response, "totp", "000001")
        for attempt in range(2, 6):
            response = post_form(fresh, "/login/second-factor", response, method="totp", code=f"00000{attempt}")
        assert response.status_code == 400 and "Start again" in response.text
        locked = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
        assert locked.status_code == 200 and "Wrong e-mail or password" in locked.text  # locked, told as any failure
        assert fresh.get("/login/second-factor").status_code == 400, "the ceremony ended"
    provider.context.mail.sender.flush()  # no SMTP here: the development outbox
    notices = [p for p in provider.settings.outbox_dir.glob("*.eml")
               if f"To: {user.email}" in p.read_text() and "was locked" in p.read_text()]
    assert len(notices) == 1, "the owner is told once that wrong codes locked the account"
    provider.clock.advance(provider.settings.login_lock_seconds + 1)
    with browser(provider) as fresh:
        response = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
        done = second_factor(fresh, response, "totp", fresh_code(secret, provider.clock))
        assert "code" in redirect_params(follow_to_code(fresh, done))


def test_step_up_with_acr_values_and_max_age(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    user = provider.user()
    client = provider.client(first_party=True)
    sign_in(http, authorize_params(client[0]), user.email)
    secret, _ = enroll_totp(http, provider.clock)  # the session stays at the single-factor level

    single = redirect_params(http.get("/authorize", params=authorize_params(client[0], acr_values=SINGLE)))
    assert claims_for(provider, client, single)["acr"] == SINGLE
    none = redirect_params(http.get("/authorize", params=authorize_params(client[0], acr_values=MULTI, prompt="none")))
    assert none["error"] == "login_required"

    page = http.get("/authorize", params=authorize_params(client[0], acr_values=f"urn:unknown {MULTI}"))
    assert page.status_code == 200 and 'name="password"' in page.text, "step-up: sign in again"
    done = second_factor(http, login(http, page, user.email), "totp", fresh_code(secret, provider.clock))
    claims = claims_for(provider, client, redirect_params(follow_to_code(http, done)))
    assert claims["acr"] == MULTI and "otp" in claims["amr"]

    quiet = redirect_params(http.get("/authorize", params=authorize_params(client[0], acr_values=MULTI,
                                                                           prompt="none")))
    assert "code" in quiet, "the stepped-up session satisfies the level"
    provider.clock.advance(120)
    old = http.get("/authorize", params=authorize_params(client[0], acr_values=MULTI, max_age="60"))
    assert old.status_code == 200 and 'name="password"' in old.text, "max_age still applies"
    ok = redirect_params(http.get("/authorize", params=authorize_params(client[0], acr_values=MULTI,
                                                                        max_age="3600")))
    assert claims_for(provider, client, ok)["auth_time"] == claims["auth_time"]

    page = http.get("/authorize", params=authorize_params(client[0], prompt="login", max_age="0"))
    done = second_factor(http, login(http, page, user.email), "totp", fresh_code(secret, provider.clock))
    relogin = claims_for(provider, client, redirect_params(follow_to_code(http, done)))
    assert relogin["auth_time"] > claims["auth_time"], "prompt=login and max_age=0 are met by this sign-in"


def test_multi_factor_request_for_a_user_without_factors_enrolls_one(clocked: Provider) -> None:
    provider = clocked
    user = provider.user()
    client = provider.client(first_party=True)
    with browser(provider) as http:
        page = http.get("/authorize", params=authorize_params(client[0], acr_values=MULTI))
        response = login(http, page, user.email)
        assert response.status_code == 303 and response.headers["location"] == "/login/enroll"
        enroll = http.get("/login/enroll")
        assert enroll.status_code == 200 and "<svg" in enroll.text
        secret = secret_on(enroll)
        wrong = post_form(http, "/login/enroll", enroll, code="123456")
        assert wrong.status_code == 200 and secret_on(wrong) == secret
        done = post_form(http, "/login/enroll", wrong, code=fresh_code(secret, provider.clock))
        assert done.status_code == 200 and len(recovery_codes_on(done)) == 10
        link = done.text.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        claims = claims_for(provider, client, redirect_params(http.get(link)))
        assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == MULTI


def test_an_organization_that_requires_a_second_factor(clocked: Provider) -> None:
    provider = clocked
    member = provider.user(organization="strict-org")
    outsider = provider.user(organization="relaxed-org")
    client = provider.client(first_party=True)
    admin_id, admin_secret = provider.client(grant_types=["client_credentials"], admin=True, scope="admin")
    token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": "admin"},
                       auth=(admin_id, admin_secret or "")).json()["access_token"]
    with browser(provider) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        path = "/admin/api/v1/organizations/strict-org/second-factor-policy"
        assert api.get(path).json() == {"organization": "strict-org", "require_second_factor": False}
        put = api.put(path, json={"require_second_factor": True})
        assert put.status_code == 200 and put.json()["require_second_factor"] is True
        assert api.put(path, json={"require_second_factor": "yes"}).status_code == 400

    with browser(provider) as http:
        claims = claims_for(provider, client, sign_in(http, authorize_params(client[0]), outsider.email))
        assert claims["amr"] == ["pwd"]
    with browser(provider) as http:
        response = login(http, http.get("/authorize", params=authorize_params(client[0])), member.email)
        assert response.headers["location"] == "/login/enroll"
        enroll = http.get("/login/enroll")
        done = post_form(http, "/login/enroll", enroll, code=fresh_code(secret_on(enroll), provider.clock))
        link = done.text.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        assert claims_for(provider, client, redirect_params(http.get(link)))["acr"] == MULTI
        assert "Your organization requires a second factor." in http.get("/account/security").text


def test_removing_the_app_and_the_operators_reset(clocked: Provider) -> None:
    provider = clocked
    user = provider.user()
    client = provider.client(first_party=True)
    with browser(provider) as http:
        sign_in(http, authorize_params(client[0]), user.email)
        enroll_totp(http, provider.clock)
        page = http.get("/account/security")
        removed = post_form(http, "/account/security/totp-remove", page)
        assert removed.status_code == 303
        page = http.get("/account/security")
        assert "Not set up." in page.text and "0 unused." in page.text, "no codes without a factor"
        assert http.post("/account/security/totp-remove", data={"csrf_token": "forged"}).status_code == 403
        enroll_totp(http, provider.clock)
    admin_id, admin_secret = provider.client(grant_types=["client_credentials"], admin=True, scope="admin")
    token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": "admin"},
                       auth=(admin_id, admin_secret or "")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    before = httpx.get(f"{provider.url}/admin/api/v1/accounts/{user.id}/factors", headers=headers).json()
    assert before == {"totp": True, "passkeys": 0, "recovery_codes": 10}
    reset = httpx.post(f"{provider.url}/admin/api/v1/accounts/{user.id}/factors/reset", headers=headers)
    assert reset.status_code == 200 and reset.json()["removed"] == before
    missing = httpx.post(f"{provider.url}/admin/api/v1/accounts/nobody/factors/reset", headers=headers)
    assert missing.status_code == 404
    provider.context.mail.sender.flush()  # no SMTP here: the development outbox
    told = [p for p in provider.settings.outbox_dir.glob("*.eml")
            if f"To: {user.email}" in p.read_text() and "second factors were reset" in p.read_text()]
    assert len(told) == 1, "the owner is told that an operator reset their second factors"
    with browser(provider) as http:
        claims = claims_for(provider, client, sign_in(http, authorize_params(client[0]), user.email))
        assert claims["amr"] == ["pwd"]


def test_canary_users_reset_factors(clocked: Provider, tmp_path: Path) -> None:
    provider = clocked
    user, client, _ = _with_authenticator_app(provider)
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_DATABASE_URL": provider.settings.database_url}

    def reset(email: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "idp.cli", "users", "reset-factors", email, "--json"],
                              env=env, capture_output=True, text=True, timeout=120, check=False)

    done = reset(user.email)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"] == {"totp": True, "passkeys": 0, "recovery_codes": 10}
    again = reset(user.email)
    assert json.loads(again.stdout)["removed"] == {"totp": False, "passkeys": 0, "recovery_codes": 0}
    told = [p for p in (tmp_path / "outbox").glob("*.eml")
            if f"To: {user.email}" in p.read_text() and "second factors were reset" in p.read_text()]
    assert len(told) == 1, "told once: the second reset removed nothing"
    unknown = reset("nobody@example.com")
    assert unknown.returncode == 1 and "no account" in unknown.stderr
    with browser(provider) as http:
        assert claims_for(provider, client, sign_in(http, authorize_params(client[0]), user.email))["amr"] == ["pwd"]


def test_the_security_page_needs_a_session(provider: Provider, http: httpx.Client) -> None:
    assert http.get("/account/security").status_code == 401
    assert http.get("/login/second-factor").status_code == 400
    assert http.get("/login/enroll").status_code == 400


def test_with_a_key_encryption_key_the_secret_is_sealed_at_rest(tmp_path: Path) -> None:
    # A database of its own: the setting also seals the signing keys, which other tests' providers must read.
    provider, server = start_provider(tmp_path, f"sqlite:///{tmp_path / 'sealed.db'}", key_encryption_key="s" * 40)
    try:
        user = provider.user()
        client = provider.client(first_party=True)
        with browser(provider) as http:
            sign_in(http, authorize_params(client[0]), user.email)
            secret, _ = enroll_totp(http, provider.clock)
        with provider.context.factory() as db:
            row = db.get(TotpFactor, user.id)
            assert row is not None and row.secret.startswith("enc:v1:") and secret not in row.secret
        with browser(provider) as fresh:
            response = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
            done = second_factor(fresh, response, "totp", fresh_code(secret, provider.clock))
            assert "code" in redirect_params(follow_to_code(fresh, done))
    finally:
        server.stop()


def test_passkey_endpoints_refuse_bad_input_with_clear_errors(provider: Provider, http: httpx.Client) -> None:
    client = provider.client(first_party=True)
    page = http.get("/authorize", params=authorize_params(client[0]))
    token = page.cookies.get("canary_csrf") or http.cookies.get("canary_csrf")
    assert 'data-passkey="signin"' in page.text and '<script src="/factors/passkeys.js"' in page.text
    assert "onclick" not in page.text
    script = http.get("/factors/passkeys.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    forged = http.post("/login/passkey/options", json={"csrf_token": "forged", "mode": "signin"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["error_description"]
    assert http.post("/login/passkey/options", content=b"{not json").status_code == 400
    mode = http.post("/login/passkey/options", json={"csrf_token": token, "mode": "other"})
    assert mode.status_code == 400 and "mode" in mode.json()["error_description"]
    missing = http.post("/login/passkey/options", json={"csrf_token": token, "mode": "signin"})
    assert missing.status_code == 400 and "authorization request" in missing.json()["error_description"]
    nested = http.post("/login/passkey/options", content=b"[" * 100_000 + b"]" * 100_000,
                       headers={"content-type": "application/json"})
    assert nested.status_code in (400, 413)
    bad_credentials: list[object] = [
        {}, [], "x", {"id": "x", "rawId": "x"}, {"id": "x", "rawId": "x", "response": []},
        {"id": "x", "rawId": "x", "response": {"userHandle": 5}},
        {"id": "x", "rawId": "x", "response": {"clientDataJSON": "!!", "authenticatorData": 1, "signature": None}},
    ]
    for credential in bad_credentials:
        options = http.post("/login/passkey/options", json={"csrf_token": token, "mode": "signin",
                                                            "authorization_request": "client_id=" + client[0]})
        assert options.status_code == 200
        body = options.json()
        assert body["rpId"] == "127.0.0.1" and body["userVerification"] == "required"
        assert body["allowCredentials"] == []
        answer = http.post("/login/passkey", json={"csrf_token": token, "mode": "signin", "credential": credential})
        assert answer.status_code == 400 and answer.json()["error"] in {"access_denied", "invalid_request"}, \
            answer.text
    assert "canary_session" not in http.cookies
    second = http.post("/login/passkey/options", json={"csrf_token": token, "mode": "second-factor"})
    assert second.status_code == 400 and "expired" in second.json()["error_description"]
    assert http.post("/account/security/passkeys/options", json={"csrf_token": token}).status_code == 401


def test_concurrent_wrong_codes_are_checked_no_more_than_the_limits(clocked: Provider) -> None:
    """Each answer is counted before it is checked: twenty wrong codes sent at once into one ceremony get at most
    four "not right" pages (the fifth locks), and the owner one lock notice."""
    provider = clocked
    user, client, _ = _with_authenticator_app(provider)
    with browser(provider) as fresh:
        after_password = login(fresh, fresh.get("/authorize", params=authorize_params(client[0])), user.email)
        assert after_password.headers["location"] == "/login/second-factor"
        page = fresh.get("/login/second-factor")
        cookies = dict(fresh.cookies)

    def guess(n: int) -> httpx.Response:
        with httpx.Client(base_url=provider.url, cookies=cookies, timeout=30) as same_browser:
            return post_form(same_browser, "/login/second-factor", page, method="totp", code=f"{n:06d}")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(20)))
    assert all(a.status_code < 500 for a in answers)
    not_right = [a for a in answers if "That code is not right" in a.text]
    assert 1 <= len(not_right) <= 4, len(not_right)
    provider.context.mail.sender.flush()
    notices = [p for p in provider.settings.outbox_dir.glob("*.eml")
               if f"To: {user.email}" in p.read_text() and "was locked" in p.read_text()]
    assert len(notices) <= 1
