"""/admin/api/v1/clients over HTTP."""

from __future__ import annotations

import httpx

from tests.functional.admin.conftest import Admin, client_credentials_token
from tests.functional.conftest import Provider
from tests.support.browser import REDIRECT


def token_response(provider: Provider, client_id: str, secret: str | None) -> httpx.Response:
    return httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"},
                      auth=(client_id, secret or ""))


def test_confidential_client_gets_its_secret_once(admin: Admin, provider: Provider) -> None:
    created = admin.client(name="Resource server", grant_types=["client_credentials"], scope="events:write",
                           first_party=True)
    assert created["client_secret"] and created["public"] is False
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert token_response(provider, created["client_id"], created["client_secret"]).status_code == 200
    fetched = admin.ok("GET", f"/clients/{created['client_id']}")
    assert "client_secret" not in fetched
    assert fetched == {k: v for k, v in created.items() if k != "client_secret"}


def test_defaults_follow_the_cli(admin: Admin, provider: Provider) -> None:
    web = admin.client(redirect_uris=[REDIRECT])
    assert web["grant_types"] == ["authorization_code", "refresh_token"]
    assert web["scope"] == "openid profile email offline_access" and web["admin"] is False
    tool = admin.client(admin=True)
    assert tool["grant_types"] == ["client_credentials"] and tool["scope"] == "admin" and tool["admin"] is True
    token = client_credentials_token(provider, tool["client_id"], tool["client_secret"])
    assert admin.get("/clients", token=token).status_code == 200
    mixed = admin.client(admin=True, grant_types=["client_credentials"], scope="events:write")
    assert mixed["scope"] == "events:write admin"


def test_public_client_has_no_secret_and_cannot_rotate(admin: Admin) -> None:
    created = admin.client(public=True, redirect_uris=["http://127.0.0.1:9999/cb"],
                           id_token_signed_response_alg="ES256")
    assert created["client_secret"] is None and created["public"] is True
    assert created["token_endpoint_auth_method"] == "none"
    admin.error("POST", f"/clients/{created['client_id']}/secret", 400, "invalid_request")


def test_access_token_format_is_chosen_per_client(admin: Admin, provider: Provider) -> None:
    plain = admin.client(grant_types=["client_credentials"], scope="events:write")
    assert plain["access_token_format"] == "jwt"
    created = admin.client(grant_types=["client_credentials"], scope="events:write", access_token_format="opaque")
    assert created["access_token_format"] == "opaque"
    token = client_credentials_token(provider, created["client_id"], created["client_secret"])
    assert token.startswith("cat1~")
    changed = admin.ok("PATCH", f"/clients/{created['client_id']}", json={"access_token_format": "jwt"})
    assert changed["access_token_format"] == "jwt"
    assert client_credentials_token(provider, created["client_id"], created["client_secret"]).count(".") == 2


def test_organization_by_id_or_slug(admin: Admin) -> None:
    org = admin.organization()
    by_slug = admin.client(grant_types=["client_credentials"], organization=org["slug"])
    by_id = admin.client(grant_types=["client_credentials"], organization=org["id"])
    assert by_slug["organization_id"] == by_id["organization_id"] == org["id"]


def test_list_pages_in_registration_order(admin: Admin) -> None:
    first = admin.ok("GET", "/clients", params={"limit": 1})
    assert len(first["items"]) == 1 and first["total"] >= 1
    total = first["total"]
    last = admin.ok("GET", "/clients", params={"offset": total - 1, "limit": 5})
    assert len(last["items"]) == 1 and last["total"] == total
    new = admin.client(grant_types=["client_credentials"])
    after = admin.ok("GET", "/clients", params={"offset": total, "limit": 200})
    assert [c["client_id"] for c in after["items"]][-1] == new["client_id"]


def test_patch(admin: Admin) -> None:
    created = admin.client(redirect_uris=[REDIRECT])
    path = f"/clients/{created['client_id']}"
    changed = admin.ok("PATCH", path, json={
        "name": "Renamed", "redirect_uris": [REDIRECT, "https://rp.example.com/other"],
        "post_logout_redirect_uris": ["https://rp.example.com/bye"], "scope": "openid email",
        "first_party": True, "grant_types": ["authorization_code"]})
    assert changed["name"] == "Renamed" and changed["redirect_uris"][1] == "https://rp.example.com/other"
    assert changed["post_logout_redirect_uris"] == ["https://rp.example.com/bye"]
    assert changed["scope"] == "openid email" and changed["first_party"] is True
    assert changed["grant_types"] == ["authorization_code"]
    assert admin.ok("GET", path) == changed
    promoted = admin.ok("PATCH", path, json={"admin": True})
    assert promoted["admin"] is True and promoted["scope"] == "openid email admin"
    kept = admin.ok("PATCH", path, json={"scope": "openid"})
    assert kept["scope"] == "openid admin"
    demoted = admin.ok("PATCH", path, json={"admin": False})
    assert demoted["admin"] is False and demoted["scope"] == "openid"
    assert admin.ok("PATCH", path, json={}) == demoted


def test_rotate_secret(admin: Admin, provider: Provider) -> None:
    created = admin.client(grant_types=["client_credentials"])
    # The token endpoint has the client in its in-memory cache now: rotation must take effect at once anyway.
    assert token_response(provider, created["client_id"], created["client_secret"]).status_code == 200
    rotated = admin.ok("POST", f"/clients/{created['client_id']}/secret")
    assert rotated["client_id"] == created["client_id"] and rotated["client_secret"] != created["client_secret"]
    assert token_response(provider, created["client_id"], created["client_secret"]).status_code == 401
    assert token_response(provider, created["client_id"], rotated["client_secret"]).status_code == 200


def test_delete(admin: Admin, provider: Provider) -> None:
    created = admin.client(grant_types=["client_credentials"])
    assert token_response(provider, created["client_id"], created["client_secret"]).status_code == 200
    admin.ok("DELETE", f"/clients/{created['client_id']}", 204)
    assert token_response(provider, created["client_id"], created["client_secret"]).status_code == 401
    for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/secret")]:
        admin.error(method, f"/clients/{created['client_id']}{suffix}", 404, "not_found",
                    json={} if method == "PATCH" else None)


def test_bad_client_fields_are_400_naming_the_field(admin: Admin) -> None:
    cases: list[tuple[object, str]] = [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "redirect_uris": ["http://evil.example.com/cb"]}, "redirect_uris[0]"),
        ({"name": "x", "redirect_uris": [REDIRECT, "https://rp.example.com/cb#frag"]}, "redirect_uris[1]"),
        ({"name": "x", "redirect_uris": ["javascript:alert(1)"]}, "redirect_uris[0]"),
        ({"name": "x", "redirect_uris": [REDIRECT], "post_logout_redirect_uris": ["relative/path"]},
         "post_logout_redirect_uris[0]"),
        ({"name": "x"}, "redirect_uris"),
        ({"name": "x", "redirect_uris": REDIRECT}, "redirect_uris"),
        ({"name": "x", "grant_types": ["password"]}, "grant_types[0]"),
        ({"name": "x", "grant_types": []}, "grant_types"),
        ({"name": "x", "grant_types": ["client_credentials", "client_credentials"]}, "grant_types[1]"),
        ({"name": "x", "public": True, "grant_types": ["client_credentials"]}, "grant_types"),
        ({"name": "x", "grant_types": ["client_credentials"], "scope": "two  spaces"}, "scope"),
        ({"name": "x", "grant_types": ["client_credentials"], "scope": 'quote"d'}, "scope"),
        ({"name": "x", "grant_types": ["client_credentials"], "organization": "no-such-org"}, "organization"),
        ({"name": "x", "grant_types": ["client_credentials"], "id_token_signed_response_alg": "HS256"},
         "id_token_signed_response_alg"),
        ({"name": "x", "grant_types": ["client_credentials"], "access_token_format": "paseto"},
         "access_token_format"),
        ({"name": "x", "grant_types": ["client_credentials"], "client_id": "mine"}, "client_id"),
        ({"name": "x", "grant_types": ["client_credentials"], "admin": "yes"}, "admin"),
    ]
    for body, field in cases:
        admin.error("POST", "/clients", 400, "invalid_request", field, json=body)
    created = admin.client(redirect_uris=[REDIRECT])
    path = f"/clients/{created['client_id']}"
    for patch, field in [({"redirect_uris": []}, "redirect_uris"), ({"grant_types": ["implicit"]}, "grant_types[0]"),
                         ({"redirect_uris": ["http://example.com/x"]}, "redirect_uris[0]"),
                         ({"public": True}, "public"), ({"name": None}, "name"), ({"scope": ""}, "scope"),
                         ({"access_token_format": "JWT"}, "access_token_format")]:
        admin.error("PATCH", path, 400, "invalid_request", field, json=patch)
    assert admin.ok("GET", path) == {k: v for k, v in created.items() if k != "client_secret"}
