"""RP-initiated logout."""

from __future__ import annotations

import httpx

from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, redirect_params, sign_in
from tests.support.tokens import exchange

AFTER = "https://rp.example.com/signed-out"


def signed_in(provider: Provider, http: httpx.Client) -> tuple[str, str]:
    user = provider.user()
    client_id, secret = provider.client(first_party=True, post_logout_redirect_uris=[AFTER])
    back = sign_in(http, authorize_params(client_id), user.email)
    return client_id, exchange(provider, client_id, secret, back["code"]).json()["id_token"]


def test_logout_with_hint_redirects_with_state_and_ends_session(provider: Provider, http: httpx.Client) -> None:
    client_id, id_token = signed_in(provider, http)
    response = http.get("/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": AFTER,
                                           "state": "xyz"})
    assert response.status_code == 302
    assert redirect_params(response) == {"state": "xyz"}
    assert response.headers["location"].startswith(AFTER)
    back = redirect_params(http.get("/authorize", params=authorize_params(client_id, prompt="none")))
    assert back["error"] == "login_required"


def test_unregistered_post_logout_redirect_uri_is_refused(provider: Provider, http: httpx.Client) -> None:
    _, id_token = signed_in(provider, http)
    response = http.get("/logout", params={"id_token_hint": id_token,
                                           "post_logout_redirect_uri": "https://evil.example.com/"})
    assert response.status_code == 400 and "location" not in response.headers


def test_logout_without_hint_asks_for_confirmation_with_csrf(provider: Provider, http: httpx.Client) -> None:
    client_id, _ = signed_in(provider, http)
    page = http.get("/logout")
    assert page.status_code == 200 and 'name="confirm"' in page.text
    forged = http.post("/logout", data={"confirm": "yes"})
    assert forged.status_code == 200 and 'name="confirm"' in forged.text  # asked again, nothing ended
    still = redirect_params(http.get("/authorize", params=authorize_params(client_id, prompt="none")))
    assert "code" in still
    from tests.support.browser import hidden

    done = http.post("/logout", data={"confirm": "yes", "csrf_token": hidden(page.text, "csrf_token")})
    assert done.status_code == 200 and "signed out" in done.text
    gone = redirect_params(http.get("/authorize", params=authorize_params(client_id, prompt="none")))
    assert gone["error"] == "login_required"


def test_logout_post_with_hint(provider: Provider, http: httpx.Client) -> None:
    client_id, id_token = signed_in(provider, http)
    response = http.post("/logout", data={"id_token_hint": id_token, "post_logout_redirect_uri": AFTER})
    assert response.status_code == 303 and response.headers["location"] == AFTER
    gone = redirect_params(http.get("/authorize", params=authorize_params(client_id, prompt="none")))
    assert gone["error"] == "login_required"  # the session has ended
