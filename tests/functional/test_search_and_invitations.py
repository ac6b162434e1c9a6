"""Accounts and organizations over the admin API and the console (SQLite and PostgreSQL): revoking an
invitation that a later one replaced leaves the person invited; search by name or e-mail ignores case for
every letter, not ASCII ones only."""

from __future__ import annotations

import secrets

from tests.functional.conftest import Provider
from tests.support.admin_api import AdminApi
from tests.support.console import Console


# --- invitations -----------------------------------------------------------------------------------------------
def _status(admin_api: AdminApi, slug: str) -> dict[str, str]:
    return {i["id"]: i["status"] for i in admin_api.call("GET", f"/organizations/{slug}/invitations")["items"]}


def test_revoking_a_replaced_invitation_leaves_the_pending_one_and_the_invited_member(admin_api: AdminApi) -> None:
    tag = secrets.token_hex(4)
    slug = f"globex-{tag}"
    admin_api.call("POST", "/organizations", 201, json={"slug": slug})
    email = f"carol-{tag}@example.com"
    first = admin_api.call("POST", f"/organizations/{slug}/invitations", 201, json={"email": email})
    second = admin_api.call("POST", f"/organizations/{slug}/invitations", 201, json={"email": email})
    assert _status(admin_api, slug) == {first["id"]: "revoked", second["id"]: "pending"}

    again = admin_api.call("POST", f"/organizations/{slug}/invitations/{first['id']}/revoke")
    assert again["status"] == "revoked" and again["revoked_at"] == second["created_at"]  # as it was
    member = admin_api.member(slug, email)
    assert member is not None and member["state"] == "invited"
    assert admin_api.call("GET", f"/organizations/{slug}")["member_count"] == 1
    assert _status(admin_api, slug) == {first["id"]: "revoked", second["id"]: "pending"}

    # Revoking the pending invitation takes the invited membership with it, as before.
    assert admin_api.call("POST", f"/organizations/{slug}/invitations/{second['id']}/revoke")["status"] == "revoked"
    assert admin_api.member(slug, email) is None
    assert admin_api.call("GET", f"/organizations/{slug}")["member_count"] == 0


# --- search ------------------------------------------------------------------------------------------------------
def _emails(admin_api: AdminApi, query: str) -> list[str]:
    return [a["email"] for a in admin_api.call("GET", "/accounts", params={"q": query, "limit": 200})["items"]]


def test_accounts_are_found_by_a_name_in_any_case_beyond_ascii(provider: Provider, admin_api: AdminApi,
                                                              console: Console) -> None:
    tag = secrets.token_hex(4)
    elodie = provider.user(email=f"elodie-{tag}@example.com", name=f"ÉLODIE Straße {tag}")
    provider.user(email=f"other-{tag}@example.com", name=f"Other {tag}")
    for query in ("ÉLODIE", "élodie", "Élodie", f"élodie straße {tag}", f"ÉLODIE STRAßE {tag}", "straße"):
        assert elodie.email in _emails(admin_api, query), query
    assert _emails(admin_api, f"élodie strasse {tag}") == []  # lower case, not case folding: ß stays ß
    page = console.get("/console/users", q=f"élodie straße {tag}")
    assert page.status_code == 200 and elodie.email in page.text and f"other-{tag}" not in page.text


def test_accounts_are_found_by_an_address_in_any_case_beyond_ascii(provider: Provider, admin_api: AdminApi) -> None:
    tag = secrets.token_hex(4)
    user = provider.user(email=f"zoë-{tag}@example.com", name="Zoe")
    assert user.email in _emails(admin_api, f"ZOË-{tag}") and user.email in _emails(admin_api, f"Zoë-{tag}@EXAMPLE")


def test_organizations_are_found_by_a_name_in_any_case_beyond_ascii(admin_api: AdminApi, console: Console) -> None:
    tag = secrets.token_hex(4)
    org = admin_api.call("POST", "/organizations", 201, json={"slug": f"zurich-{tag}", "name": f"ZÜRICH AG {tag}"})
    for query in ("ZÜRICH", "zürich", "Zürich", f"zürich ag {tag}"):
        found = admin_api.call("GET", "/organizations", params={"q": query, "limit": 200})["items"]
        assert org["id"] in [o["id"] for o in found], query
    page = console.get("/console/organizations", q=f"zürich ag {tag}")
    assert page.status_code == 200 and f"zurich-{tag}" in page.text
