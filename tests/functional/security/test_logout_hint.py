"""RP-initiated logout ends a session at once only with an unexpired ID token of the session's own user."""

from __future__ import annotations

import httpx

from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, hidden, redirect_params, sign_in
from tests.support.tokens import exchange

AFTER = "https://rp.example.com/signed-out"


def _signed_in(provider: Provider, http: httpx.Client, client: tuple[str, str | None]) -> str:
    client_id, secret = client
    back = sign_in(http, authorize_params(client_id), provider.user().email)
    return str(exchange(provider, client_id, secret, back["code"]).json()["id_token"])


def _still_signed_in(http: httpx.Client, client_id: str) -> bool:
    return "code" in redirect_params(http.get("/authorize", params=authorize_params(client_id, prompt="none")))


def test_someone_elses_hint_asks_the_victim_to_confirm(provider: Provider) -> None:
    client = provider.client(first_party=True, post_logout_redirect_uris=[AFTER])
    with httpx.Client(base_url=provider.url) as victim, httpx.Client(base_url=provider.url) as attacker:
        _signed_in(provider, victim, client)
        attackers_token = _signed_in(provider, attacker, client)
        page = victim.get("/logout", params={"id_token_hint": attackers_token, "post_logout_redirect_uri": AFTER})
        assert page.status_code == 200 and 'name="confirm"' in page.text
        assert _still_signed_in(victim, client[0])
        # The victim may still choose to sign out: the form carries the request on.
        done = victim.post("/logout", data={"confirm": "yes", "csrf_token": hidden(page.text, "csrf_token"),
                                            "id_token_hint": attackers_token, "post_logout_redirect_uri": AFTER})
        assert done.status_code == 303 and done.headers["location"] == AFTER
        assert not _still_signed_in(victim, client[0])


def test_an_expired_hint_asks_for_confirmation(clocked: Provider, clocked_http: httpx.Client) -> None:
    client = clocked.client(first_party=True, post_logout_redirect_uris=[AFTER])
    id_token = _signed_in(clocked, clocked_http, client)
    clocked.clock.advance(clocked.settings.id_token_ttl + 5)
    page = clocked_http.get("/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": AFTER})
    assert page.status_code == 200 and 'name="confirm"' in page.text
    assert _still_signed_in(clocked_http, client[0])


def test_a_hint_without_a_session_asks_for_confirmation(provider: Provider, http: httpx.Client) -> None:
    client = provider.client(first_party=True, post_logout_redirect_uris=[AFTER])
    id_token = _signed_in(provider, http, client)
    with httpx.Client(base_url=provider.url) as other_browser:
        page = other_browser.get("/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": AFTER})
        assert page.status_code == 200 and 'name="confirm"' in page.text
    assert _still_signed_in(http, client[0])


def test_the_users_own_fresh_hint_ends_the_session_at_once(provider: Provider, http: httpx.Client) -> None:
    client = provider.client(first_party=True, post_logout_redirect_uris=[AFTER])
    id_token = _signed_in(provider, http, client)
    response = http.get("/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": AFTER})
    assert response.status_code == 302 and response.headers["location"] == AFTER
    assert not _still_signed_in(http, client[0])
