"""The authorization endpoint: errors, PKCE, prompt, max_age, id_token_hint, hints, consent."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.conftest import Provider
from tests.support.browser import REDIRECT, authorize_params, consent, login, pkce_pair, redirect_params, sign_in
from tests.support.tokens import exchange, id_claims


def test_get_and_post_both_work_and_extra_parameters_are_ignored(provider: Provider, http: httpx.Client) -> None:
    client_id, _ = provider.client(first_party=True)
    params = authorize_params(client_id, display="page", ui_locales="fr-CA en", claims_locales="fr",
                              acr_values="urn:mace:incommon:iap:silver", foo="bar")
    assert http.get("/authorize", params=params).status_code == 200
    page = http.post("/authorize", data=params)
    assert page.status_code == 200 and 'name="password"' in page.text


def test_login_hint_prefills_the_form(provider: Provider, http: httpx.Client) -> None:
    client_id, _ = provider.client()
    page = http.get("/authorize", params=authorize_params(client_id, login_hint="hint@example.com"))
    assert 'value="hint@example.com"' in page.text


@pytest.mark.parametrize("change", [
    {"client_id": "no-such-client"},
    {"client_id": ""},
    {"redirect_uri": "https://evil.example.com/callback"},
    {"redirect_uri": REDIRECT + "/extra"},
    {"redirect_uri": REDIRECT + "?x=1"},
    {"redirect_uri": REDIRECT.replace("https", "http")},
    {"redirect_uri": REDIRECT.replace("rp.example.com", "rp.example.com:8443")},
])
def test_bad_client_or_redirect_uri_is_a_page_never_a_redirect(provider: Provider, http: httpx.Client,
                                                               change: dict[str, str]) -> None:
    client_id, _ = provider.client()
    params = authorize_params(client_id)
    params.update(change)
    response = http.get("/authorize", params={k: v for k, v in params.items() if v})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "text/html" in response.headers["content-type"]


def test_several_redirect_uris_require_one_to_be_sent(provider: Provider, http: httpx.Client) -> None:
    client_id, _ = provider.client(redirect_uris=[REDIRECT, "https://rp.example.com/other"])
    params = authorize_params(client_id)
    del params["redirect_uri"]
    response = http.get("/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers


def test_single_redirect_uri_may_be_omitted(provider: Provider, http: httpx.Client) -> None:
    client_id, _ = provider.client()
    params = authorize_params(client_id)
    del params["redirect_uri"]
    assert http.get("/authorize", params=params).status_code == 200


@pytest.mark.parametrize(("change", "error"), [
    ({"response_type": ""}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"scope": ""}, "invalid_scope"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "bogus"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"code_challenge_method": "plain", "code_challenge": "a" * 43}, "invalid_request"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"id_token_hint": "not-a-token"}, "invalid_request"),
])
def test_errors_after_a_good_redirect_uri_go_back_with_state_and_iss(
        provider: Provider, http: httpx.Client, change: dict[str, str], error: str) -> None:
    client_id, _ = provider.client()
    params = authorize_params(client_id)
    params.update(change)
    back = redirect_params(http.get("/authorize", params={k: v for k, v in params.items() if v}))
    assert back["error"] == error
    assert back["error_description"]
    assert back["state"] == params["state"]
    assert back["iss"] == provider.url
    assert "code" not in back


def test_public_client_must_use_pkce(provider: Provider, http: httpx.Client) -> None:
    client_id, _ = provider.client(public=True)
    back = redirect_params(http.get("/authorize", params=authorize_params(client_id)))
    assert back["error"] == "invalid_request" and "PKCE" in back["error_description"]


def test_public_client_with_pkce_gets_tokens_and_verifier_is_checked(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client(public=True, first_party=True)
    verifier, challenge = pkce_pair()
    back = sign_in(http, authorize_params(client_id, challenge), user.email)
    wrong = exchange(provider, client_id, None, back["code"], verifier="x" * 43 + "wrong")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    back = sign_in(http, authorize_params(client_id, challenge), user.email)
    missing = exchange(provider, client_id, None, back["code"])
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    back = sign_in(http, authorize_params(client_id, challenge), user.email)
    ok = exchange(provider, client_id, None, back["code"], verifier)
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"] == "Bearer"


def test_confidential_client_pkce_verified_when_sent(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    verifier, challenge = pkce_pair()
    back = sign_in(http, authorize_params(client_id, challenge), user.email)
    assert exchange(provider, client_id, secret, back["code"], "y" * 50).json()["error"] == "invalid_grant"
    back = sign_in(http, authorize_params(client_id, challenge), user.email)
    assert exchange(provider, client_id, secret, back["code"], verifier).status_code == 200


def test_prompt_none_without_session_is_login_required(provider: Provider, http: httpx.Client) -> None:
    client_id, _ = provider.client()
    back = redirect_params(http.get("/authorize", params=authorize_params(client_id, prompt="none")))
    assert back["error"] == "login_required" and "code" not in back


def test_prompt_none_with_session_but_no_consent_is_consent_required(provider: Provider,
                                                                       http: httpx.Client) -> None:
    user = provider.user()
    first, _ = provider.client(first_party=True)
    sign_in(http, authorize_params(first), user.email)
    third, _ = provider.client(first_party=False)
    back = redirect_params(http.get("/authorize", params=authorize_params(third, prompt="none")))
    assert back["error"] == "consent_required"


def test_prompt_none_with_session_returns_code_without_a_page(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client()
    sign_in(http, authorize_params(client_id), user.email)
    back = redirect_params(http.get("/authorize", params=authorize_params(client_id, prompt="none")))
    assert "code" in back
    assert exchange(provider, client_id, secret, back["code"]).status_code == 200


def test_consent_is_remembered_and_prompt_consent_asks_again(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client()
    sign_in(http, authorize_params(client_id), user.email)
    again = http.get("/authorize", params=authorize_params(client_id))
    assert again.status_code == 302 and "code=" in again.headers["location"]
    asked = http.get("/authorize", params=authorize_params(client_id, prompt="consent"))
    assert asked.status_code == 200 and 'name="decision"' in asked.text
    assert "code" in redirect_params(consent(http, asked))


def test_new_scope_needs_new_consent_and_deny_is_access_denied(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client()
    sign_in(http, authorize_params(client_id, scope="openid"), user.email)
    page = http.get("/authorize", params=authorize_params(client_id, scope="openid email"))
    assert 'name="decision"' in page.text
    back = redirect_params(consent(http, page, "deny"))
    assert back["error"] == "access_denied"


def test_first_party_client_skips_consent(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client(first_party=True)
    page = http.get("/authorize", params=authorize_params(client_id))
    response = login(http, page, user.email)
    assert response.status_code == 303 and "code=" in response.headers["location"]


def test_prompt_consent_asks_a_first_party_client_too(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    sign_in(http, authorize_params(client_id), user.email)
    asked = http.get("/authorize", params=authorize_params(client_id, prompt="consent"))
    assert asked.status_code == 200 and 'name="decision"' in asked.text
    back = redirect_params(consent(http, asked))
    assert exchange(provider, client_id, secret, back["code"]).status_code == 200
    denied = redirect_params(consent(http, http.get("/authorize", params=authorize_params(client_id,
                                                                                          prompt="consent")), "deny"))
    assert denied["error"] == "access_denied" and "code" not in denied
    silent = http.get("/authorize", params=authorize_params(client_id, prompt="none"))
    assert silent.status_code == 302 and "code" in redirect_params(silent)  # prompt=none never shows a page


def test_prompt_login_forces_a_fresh_login_with_new_auth_time(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    back = sign_in(http, authorize_params(client_id), user.email)
    first = id_claims(provider, exchange(provider, client_id, secret, back["code"]).json()["id_token"])
    provider.clock.advance(1)
    page = http.get("/authorize", params=authorize_params(client_id, prompt="login"))
    assert 'name="password"' in page.text
    back = redirect_params(login(http, page, user.email))
    second = id_claims(provider, exchange(provider, client_id, secret, back["code"]).json()["id_token"])
    assert second["auth_time"] > first["auth_time"]


def test_max_age(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    back = sign_in(http, authorize_params(client_id), user.email)
    first = id_claims(provider, exchange(provider, client_id, secret, back["code"]).json()["id_token"])
    large = http.get("/authorize", params=authorize_params(client_id, max_age="3600"))
    claims = id_claims(provider, exchange(provider, client_id, secret,
                                          redirect_params(large)["code"]).json()["id_token"])
    assert claims["auth_time"] == first["auth_time"]
    provider.clock.advance(2)
    small = http.get("/authorize", params=authorize_params(client_id, max_age="1"))
    assert small.status_code == 200 and 'name="password"' in small.text
    back = redirect_params(login(http, small, user.email))
    claims = id_claims(provider, exchange(provider, client_id, secret, back["code"]).json()["id_token"])
    assert claims["auth_time"] > first["auth_time"]


def test_id_token_hint_same_user_silent_other_user_login_required(provider: Provider) -> None:
    alice, bob = provider.user(), provider.user()
    client_id, secret = provider.client(first_party=True)
    with httpx.Client(base_url=provider.url) as browser:
        back = sign_in(browser, authorize_params(client_id), alice.email)
        alice_token = exchange(provider, client_id, secret, back["code"]).json()["id_token"]
    with httpx.Client(base_url=provider.url) as browser:
        back = sign_in(browser, authorize_params(client_id), bob.email)
        bob_token = exchange(provider, client_id, secret, back["code"]).json()["id_token"]
        same = redirect_params(browser.get("/authorize", params=authorize_params(
            client_id, prompt="none", id_token_hint=bob_token)))
        assert "code" in same
        other = redirect_params(browser.get("/authorize", params=authorize_params(
            client_id, prompt="none", id_token_hint=alice_token)))
        assert other["error"] == "login_required"


def test_wrong_password_shows_the_form_again_and_records_no_session(provider: Provider,
                                                                   http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client(first_party=True)
    page = http.get("/authorize", params=authorize_params(client_id))
    again = login(http, page, user.email, "wrong password")
    assert again.status_code == 200 and "Wrong e-mail or password" in again.text
    assert "canary_session" not in again.cookies
    unknown = login(http, page, "nobody@example.com", "whatever1")
    assert "Wrong e-mail or password" in unknown.text


def test_account_locks_after_repeated_failures_for_a_while(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    user = provider.user()
    client_id, _ = provider.client(first_party=True)
    page = http.get("/authorize", params=authorize_params(client_id))
    for _ in range(provider.settings.login_max_failures):
        login(http, page, user.email, "wrong password")
    locked = login(http, page, user.email)  # the right password, refused like a wrong one
    assert locked.status_code == 200 and "Wrong e-mail or password" in locked.text
    provider.clock.advance(provider.settings.login_lock_seconds - 5)
    assert "Wrong e-mail or password" in login(http, page, user.email).text
    provider.clock.advance(10)
    assert login(http, page, user.email).status_code == 303


def test_login_and_consent_posts_need_the_csrf_token(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client()
    page = http.get("/authorize", params=authorize_params(client_id))
    from tests.support.browser import hidden

    request = hidden(page.text, "authorization_request")
    refused = http.post("/login", data={"authorization_request": request, "email": user.email,
                                        "password": "x" * 10})
    assert refused.status_code == 403
    forged = http.post("/login", data={"authorization_request": request, "email": user.email,
                                       "password": "x" * 10, "csrf_token": "forged-value-1234567890"})
    assert forged.status_code == 403
    page = login(http, page, user.email)
    refused = http.post("/consent", data={"authorization_request": hidden(page.text, "authorization_request"),
                                          "decision": "allow"})
    assert refused.status_code == 403


def test_session_cookie_flags(provider: Provider, http: httpx.Client) -> None:
    user = provider.user()
    client_id, _ = provider.client(first_party=True)
    page = http.get("/authorize", params=authorize_params(client_id))
    response = login(http, page, user.email)
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("canary_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain-http localhost issuer in tests


def test_code_is_long_random_and_short_lived(clocked: Provider, clocked_http: httpx.Client) -> None:
    provider, http = clocked, clocked_http
    user = provider.user()
    client_id, secret = provider.client(first_party=True)
    codes = {sign_in(http, authorize_params(client_id), user.email)["code"] for _ in range(3)}
    assert len(codes) == 3 and all(len(c) >= 43 for c in codes)
    first, second, _ = codes
    provider.clock.advance(provider.settings.code_ttl - 2)
    assert exchange(provider, client_id, secret, first).status_code == 200  # still within its lifetime
    provider.clock.advance(3)
    expired = exchange(provider, client_id, secret, second)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
