"""/admin/api/v1/organizations and their members over HTTP."""

from __future__ import annotations

from tests.functional.admin.conftest import Admin, unique


def test_create_get_by_id_or_slug_and_patch(admin: Admin) -> None:
    slug = f"acme-{unique()}"
    created = admin.organization(slug=slug, name="  Acme Inc. ")
    assert created["slug"] == slug and created["name"] == "Acme Inc." and created["member_count"] == 0
    assert admin.ok("GET", f"/organizations/{created['id']}") == created
    assert admin.ok("GET", f"/organizations/{slug}") == created
    assert admin.organization(slug=f"plain-{unique()}")["name"].startswith("plain-")
    renamed = admin.ok("PATCH", f"/organizations/{slug}", json={"name": "Acme"})
    assert renamed["name"] == "Acme" and renamed["slug"] == slug
    moved = admin.ok("PATCH", f"/organizations/{created['id']}", json={"slug": f"{slug}-new"})
    assert moved["slug"] == f"{slug}-new"
    assert admin.ok("PATCH", f"/organizations/{slug}-new", json={"slug": f"{slug}-new"})["slug"] == f"{slug}-new"
    admin.error("GET", f"/organizations/{slug}", 404, "not_found")


def test_search_and_paging(admin: Admin) -> None:
    tag = unique()
    slugs = [admin.organization(slug=f"{tag}-{i}")["slug"] for i in range(3)]
    admin.organization(name=f"Called {tag}")
    page = admin.ok("GET", "/organizations", params={"q": f"{tag}-", "limit": 2})
    assert page["total"] == 3 and [o["slug"] for o in page["items"]] == slugs[:2]
    rest = admin.ok("GET", "/organizations", params={"q": f"{tag}-", "offset": 2})
    assert [o["slug"] for o in rest["items"]] == slugs[2:] and rest["limit"] == 50
    assert admin.ok("GET", "/organizations", params={"q": f"called {tag}"})["total"] == 1
    assert admin.ok("GET", "/organizations", params={"q": "%"})["total"] == 0
    assert admin.ok("GET", "/organizations")["total"] >= 4


def test_members_put_list_and_remove(admin: Admin) -> None:
    org = admin.organization()
    path = f"/organizations/{org['slug']}/members"
    accounts = [admin.account(name=f"M{i}") for i in range(3)]
    for account in accounts:
        member = admin.ok("PUT", f"{path}/{account['id']}", json={})
        assert member["role"] == "member" and member["account_id"] == account["id"]
        assert member["email"] == account["email"] and member["disabled"] is False
    promoted = admin.ok("PUT", f"{path}/{accounts[0]['id']}", json={"role": "owner"})
    assert promoted["role"] == "owner"
    page = admin.ok("GET", path, params={"limit": 2})
    assert page["total"] == 3 and [m["account_id"] for m in page["items"]] == [a["id"] for a in accounts[:2]]
    assert page["items"][0]["role"] == "owner"
    assert admin.ok("GET", f"/organizations/{org['id']}")["member_count"] == 3
    roles = admin.ok("GET", f"/accounts/{accounts[0]['id']}")["organizations"]
    assert roles == [{"id": org["id"], "slug": org["slug"], "role": "owner"}]
    admin.ok("DELETE", f"{path}/{accounts[1]['id']}", 204)
    admin.error("DELETE", f"{path}/{accounts[1]['id']}", 404, "not_found")
    assert admin.ok("GET", path, params={"offset": 0})["total"] == 2
    assert admin.ok("GET", f"/accounts/{accounts[1]['id']}")["organizations"] == []


def test_member_404s(admin: Admin) -> None:
    org = admin.organization()
    account = admin.account()
    admin.error("PUT", f"/organizations/nope-{unique()}/members/{account['id']}", 404, "not_found", json={})
    admin.error("PUT", f"/organizations/{org['slug']}/members/nope", 404, "not_found", json={"role": "member"})
    admin.error("DELETE", f"/organizations/{org['slug']}/members/nope", 404, "not_found")
    admin.error("DELETE", f"/organizations/nope-{unique()}/members/{account['id']}", 404, "not_found")
    admin.error("GET", f"/organizations/nope-{unique()}/members", 404, "not_found")


def test_delete_keeps_accounts_and_clients(admin: Admin) -> None:
    org = admin.organization()
    account = admin.account(organizations=[{"organization": org["id"]}])
    client = admin.client(grant_types=["client_credentials"], scope="events:write", organization=org["slug"])
    assert client["organization_id"] == org["id"]
    admin.ok("DELETE", f"/organizations/{org['slug']}", 204)
    admin.error("GET", f"/organizations/{org['id']}", 404, "not_found")
    admin.error("DELETE", f"/organizations/{org['id']}", 404, "not_found")
    admin.error("PATCH", f"/organizations/{org['id']}", 404, "not_found", json={"name": "x"})
    assert admin.ok("GET", f"/accounts/{account['id']}")["organizations"] == []
    assert admin.ok("GET", f"/clients/{client['client_id']}")["organization_id"] is None


def test_duplicate_slug_is_409(admin: Admin) -> None:
    first = admin.organization()
    second = admin.organization()
    admin.error("POST", "/organizations", 409, "conflict", "slug", json={"slug": first["slug"]})
    admin.error("PATCH", f"/organizations/{second['id']}", 409, "conflict", "slug", json={"slug": first["slug"]})


def test_bad_organization_fields_are_400(admin: Admin) -> None:
    for body, field in [({}, "slug"), ({"slug": "Has Spaces"}, "slug"), ({"slug": "-dash"}, "slug"),
                        ({"slug": "a" * 100}, "slug"), ({"slug": 7}, "slug"), ({"slug": "ok", "name": ["x"]}, "name"),
                        ({"slug": "ok", "members": []}, "members"), ({"slug": "ok", "name": "n" * 201}, "name")]:
        admin.error("POST", "/organizations", 400, "invalid_request", field, json=body)
    org = admin.organization()
    admin.error("PATCH", f"/organizations/{org['id']}", 400, "invalid_request", "slug", json={"slug": "UPPER"})
    account = admin.account()
    for body, field in [({"role": "Owner!"}, "role"), ({"role": 1}, "role"), ({"rank": "x"}, "rank"),
                        ([], "body")]:
        admin.error("PUT", f"/organizations/{org['id']}/members/{account['id']}", 400, "invalid_request", field,
                    json=body)
    admin.error("GET", f"/organizations/{org['id']}/members", 400, "invalid_request", "limit", params={"limit": 0})
