"""Clients in the console: register (the secret shown once), change redirect URIs, rotate, delete."""

from __future__ import annotations

import secrets

import httpx

from idp.oauth.models import Client
from tests.functional.conftest import Provider
from tests.support.console import Console, errors, text_of


def _token(provider: Provider, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": "events:write"},
                      auth=(client_id, secret))


def test_a_resource_server_client_is_registered_and_its_secret_works(provider: Provider, console: Console) -> None:
    slug = f"rs-{secrets.token_hex(4)}"
    console.post("/console/organizations", {"slug": slug})
    created = console.post("/console/clients", {"name": "Orders API", "kind": "service", "organization": slug})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    client_id, secret = text_of(created, "client-id"), text_of(created, "client-secret")
    assert "shown only this once" in created.text
    assert _token(provider, client_id, secret).status_code == 200
    with provider.context.factory() as db:
        stored = db.get(Client, client_id)
        assert stored is not None and stored.grant_types == ["client_credentials"] and stored.scope == "events:write"
        assert stored.organization_id is not None and stored.secret_hash != secret
    page = console.get(f"/console/clients/{client_id}")
    assert page.status_code == 200 and secret not in page.text and "Rotate secret" in page.text


def test_a_web_client_and_a_public_client(console: Console) -> None:
    web = console.post("/console/clients", {"name": "Web", "kind": "web",
                                            "redirect_uris": "https://app.example.com/cb\n\nhttps://app.example.com/b"})
    assert web.status_code == 201 and len(text_of(web, "client-secret")) >= 40
    spa = console.post("/console/clients", {"name": "SPA", "kind": "spa",
                                            "redirect_uris": "http://localhost:3000/cb", "first_party": "on"})
    assert spa.status_code == 201 and 'id="client-secret"' not in spa.text and "PKCE" in spa.text
    spa_page = console.get(f"/console/clients/{text_of(spa, 'client-id')}")
    assert "Rotate secret" not in spa_page.text and "first-party" in spa_page.text


def test_registration_refusals_are_shown_with_the_field(console: Console) -> None:
    cases = [
        ({"name": "Web", "kind": "web", "redirect_uris": "http://app.example.com/cb"},
         "redirect_uris[0]: plain-http redirect URIs are allowed only for localhost"),
        ({"name": "Web", "kind": "web"}, "redirect_uris: authorization_code clients need at least one redirect URI"),
        ({"name": "", "kind": "service"}, "name must have at least 1 characters"),
        ({"name": "X", "kind": "robot"}, "kind must be one of web, spa, service"),
        ({"name": "X", "kind": "service", "organization": "no-such-org"}, "organization: no organization"),
        ({"name": "X", "kind": "service", "scope": "a\"b"}, "scope must match"),
    ]
    for form, message in cases:
        page = console.post("/console/clients", form)
        assert page.status_code == 400 and errors(page)[0].startswith(message), (form, errors(page))


def test_redirect_uris_are_edited_and_checked(provider: Provider, console: Console) -> None:
    client_id, _ = provider.client(redirect_uris=["https://rp.example.com/one"])
    saved = console.post(f"/console/clients/{client_id}", {
        "name": "Renamed", "redirect_uris": "https://rp.example.com/one\nhttps://rp.example.com/two",
        "post_logout_redirect_uris": "https://rp.example.com/"})
    assert saved.headers["location"] == f"/console/clients/{client_id}?done=client-updated"
    with provider.context.factory() as db:
        stored = db.get(Client, client_id)
        assert stored is not None and stored.name == "Renamed"
        assert stored.redirect_uris == ["https://rp.example.com/one", "https://rp.example.com/two"]
    bad = console.post(f"/console/clients/{client_id}", {"name": "Renamed", "redirect_uris": "javascript:alert(1)"})
    assert bad.status_code == 400 and errors(bad)[0].startswith("redirect_uris[0]:")
    assert "javascript:alert(1)" in bad.text  # the form keeps what was typed, escaped
    with provider.context.factory() as db:
        stored = db.get(Client, client_id)
        assert stored is not None and len(stored.redirect_uris) == 2


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_one_stops(provider: Provider,
                                                                         console: Console) -> None:
    client_id, old = provider.client(grant_types=["client_credentials"], scope="events:write", redirect_uris=[],
                                     first_party=True)
    assert old is not None and _token(provider, client_id, old).status_code == 200
    rotated = console.post(f"/console/clients/{client_id}/secret")
    assert rotated.status_code == 200 and "Secret rotated" in rotated.text
    new = text_of(rotated, "client-secret")
    assert new != old and _token(provider, client_id, new).status_code == 200
    assert _token(provider, client_id, old).status_code == 401
    public_id, _ = provider.client(public=True, redirect_uris=["http://localhost/cb"])
    refused = console.post(f"/console/clients/{public_id}/secret")
    assert refused.status_code == 400 and errors(refused) == ["public clients have no secret"]


def test_deleting_a_client(provider: Provider, console: Console) -> None:
    client_id, _ = provider.client()
    deleted = console.post(f"/console/clients/{client_id}/delete")
    assert deleted.headers["location"] == "/console/clients?done=client-deleted"
    assert console.get(f"/console/clients/{client_id}").status_code == 404
    again = console.post(f"/console/clients/{client_id}/delete")
    assert again.status_code == 404 and errors(again) == [f"no client '{client_id}'"]


def test_the_consoles_own_client_is_not_changed(console: Console) -> None:
    for own in ("canary-dashboard", "canary-account"):
        page = console.get(f"/console/clients/{own}")
        assert page.status_code == 200 and "is Canary&#39;s own client" in page.text, page.text
        assert "Delete client" not in page.text and "Rotate secret" not in page.text
    for path in ("/console/clients/canary-dashboard", "/console/clients/canary-dashboard/delete",
                 "/console/clients/canary-dashboard/secret"):
        refused = console.post(path, {"name": "x", "redirect_uris": "https://evil.example/cb"})
        assert refused.status_code == 409, path
    assert console.get("/console/users").status_code == 200  # still signed in through it
