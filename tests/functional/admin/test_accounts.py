"""/admin/api/v1/accounts over HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from idp.accounts.models import LoginSession, User
from idp.db import transaction, utcnow
from tests.functional.admin.conftest import Admin, unique
from tests.functional.conftest import Provider
from tests.support.browser import PASSWORD, authorize_params, login, sign_in
from tests.support.tokens import exchange


def test_create_with_organizations_then_get(admin: Admin) -> None:
    org = admin.organization()
    other = admin.organization()
    tag = unique()
    created = admin.account(email=f"  Ada-{tag}@Example.COM ", name=" Ada ", password="long enough pw",
                            email_verified=True, organizations=[{"organization": org["slug"], "role": "owner"},
                                                                {"organization": other["id"]}])
    assert created["email"] == f"ada-{tag}@example.com" and created["name"] == "Ada"
    assert created["email_verified"] is True and created["disabled"] is False and created["locked"] is False
    assert created["last_sign_in_at"] is None
    assert sorted((o["slug"], o["role"]) for o in created["organizations"]) == sorted(
        [(org["slug"], "owner"), (other["slug"], "member")])
    assert admin.ok("GET", f"/accounts/{created['id']}") == created


def test_created_account_can_sign_in_with_its_password(admin: Admin, provider: Provider) -> None:
    account = admin.account(password=PASSWORD)
    client_id, _ = provider.client(first_party=True)
    with httpx.Client(base_url=provider.url) as browser:
        back = sign_in(browser, authorize_params(client_id), account["email"])
    assert "code" in back
    assert admin.ok("GET", f"/accounts/{account['id']}")["last_sign_in_at"] is not None


def test_account_without_password_or_name(admin: Admin) -> None:
    account = admin.account()
    assert account["name"] == "" and account["organizations"] == [] and account["email_verified"] is False


def test_search_and_paging(admin: Admin) -> None:
    tag = unique()
    ids = [admin.account(email=f"p{i}-{tag}@example.com")["id"] for i in range(3)]
    admin.account(name=f"Named {tag.upper()}")
    page = admin.ok("GET", "/accounts", params={"q": f"-{tag}@", "limit": 2})
    assert page["total"] == 3 and page["offset"] == 0 and page["limit"] == 2
    assert [a["id"] for a in page["items"]] == ids[:2]
    rest = admin.ok("GET", "/accounts", params={"q": f"-{tag}@", "offset": 2, "limit": 2})
    assert [a["id"] for a in rest["items"]] == ids[2:] and rest["total"] == 3
    by_name = admin.ok("GET", "/accounts", params={"q": f"named {tag}"})
    assert by_name["total"] == 1 and by_name["items"][0]["name"] == f"Named {tag.upper()}"
    everyone = admin.ok("GET", "/accounts")
    assert everyone["limit"] == 50 and everyone["offset"] == 0 and everyone["total"] >= 4
    assert admin.ok("GET", "/accounts", params={"q": f"nobody-{tag}"}) == {
        "items": [], "total": 0, "offset": 0, "limit": 50}
    assert admin.ok("GET", "/accounts", params={"limit": 200, "offset": 100000})["items"] == []
    # LIKE wildcards in the query are matched literally.
    assert admin.ok("GET", "/accounts", params={"q": f"p_-{tag}"})["total"] == 0
    assert admin.ok("GET", "/accounts", params={"q": f"%-{tag}@"})["total"] == 0


def test_patch_changes_only_what_is_given(admin: Admin, provider: Provider) -> None:
    account = admin.account(name="Old", email_verified=True, password="first password")
    path = f"/accounts/{account['id']}"
    renamed = admin.ok("PATCH", path, json={"name": "New"})
    assert renamed["name"] == "New" and renamed["email"] == account["email"] and renamed["email_verified"] is True
    new_email = f"moved-{unique()}@example.com"
    moved = admin.ok("PATCH", path, json={"email": new_email})
    assert moved["email"] == new_email and moved["email_verified"] is False
    verified = admin.ok("PATCH", path, json={"email": f"again-{unique()}@example.com", "email_verified": True})
    assert verified["email_verified"] is True
    assert admin.ok("PATCH", path, json={}) == verified
    admin.ok("PATCH", path, json={"password": "second password"})
    client_id, _ = provider.client(first_party=True)
    with httpx.Client(base_url=provider.url) as browser:
        assert "code" in sign_in(browser, authorize_params(client_id), verified["email"], "second password")


def test_password_lifts_lockout_and_enable_lifts_it_too(admin: Admin, provider: Provider) -> None:
    account = admin.account(password=PASSWORD)
    with transaction(provider.context.factory) as db:
        user = db.get(User, account["id"])
        assert user is not None
        user.locked_until = utcnow() + timedelta(minutes=10)
    assert admin.ok("GET", f"/accounts/{account['id']}")["locked"] is True
    assert admin.ok("PATCH", f"/accounts/{account['id']}", json={"password": "a new password"})["locked"] is False
    with transaction(provider.context.factory) as db:
        user = db.get(User, account["id"])
        assert user is not None
        user.locked_until = utcnow() + timedelta(minutes=10)
    assert admin.ok("POST", f"/accounts/{account['id']}/enable")["locked"] is False


def test_disable_ends_sessions_and_tokens_and_enable_restores_sign_in(admin: Admin, provider: Provider) -> None:
    account = admin.account(password=PASSWORD)
    client_id, secret = provider.client(first_party=True)
    with httpx.Client(base_url=provider.url) as browser:
        back = sign_in(browser, authorize_params(client_id), account["email"])
        issued = exchange(provider, client_id, secret, back["code"]).json()
        token = issued["access_token"]
        assert httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        disabled = admin.ok("POST", f"/accounts/{account['id']}/disable")
        assert disabled["disabled"] is True
        with provider.context.factory() as db:
            ended = db.scalars(select(LoginSession.ended_at).where(LoginSession.user_id == account["id"])).all()
        assert ended and all(e is not None for e in ended)
        assert httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        page = browser.get("/authorize", params=authorize_params(client_id))
        assert 'name="password"' in page.text  # the session is gone: the login form again
        assert 'name="password"' in login(browser, page, account["email"]).text  # and sign-in is refused
        enabled = admin.ok("POST", f"/accounts/{account['id']}/enable")
        assert enabled["disabled"] is False
        # Enabling does not bring the old tokens back: their grant was revoked with the disabling.
        assert httpx.get(f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        refreshed = httpx.post(f"{provider.url}/token", auth=(client_id, secret), data={
            "grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
        assert "code" in sign_in(browser, authorize_params(client_id), account["email"])


def test_patch_disabled_flag(admin: Admin) -> None:
    account = admin.account()
    path = f"/accounts/{account['id']}"
    assert admin.ok("PATCH", path, json={"disabled": True})["disabled"] is True
    assert admin.ok("PATCH", path, json={"disabled": False})["disabled"] is False


def test_unknown_account_is_404(admin: Admin) -> None:
    for method, path, body in [("GET", "/accounts/nope", None), ("PATCH", "/accounts/nope", {"name": "x"}),
                               ("POST", "/accounts/nope/disable", None), ("POST", "/accounts/nope/enable", None),
                               ("GET", "/accounts/" + "x" * 500, None), ("GET", "/accounts/%00", None)]:
        admin.error(method, path, 404, "not_found", json=body)


def test_duplicate_email_is_409(admin: Admin) -> None:
    first = admin.account()
    second = admin.account()
    admin.error("POST", "/accounts", 409, "conflict", "email", json={"email": first["email"].upper()})
    admin.error("PATCH", f"/accounts/{second['id']}", 409, "conflict", "email", json={"email": first["email"]})
    assert admin.ok("PATCH", f"/accounts/{first['id']}", json={"email": first["email"]})["email"] == first["email"]


def test_bad_account_fields_are_400_naming_the_field(admin: Admin) -> None:
    org = admin.organization()
    email = f"x-{unique()}@example.com"
    cases: list[tuple[object, str]] = [
        ({"email": "not an address"}, "email"),
        ({"email": "@example.com"}, "email"),
        ({"email": "a" * 330 + "@example.com"}, "email"),
        ({}, "email"),
        ({"email": 5}, "email"),
        ({"email": email, "name": 5}, "name"),
        ({"email": email, "name": "n" * 201}, "name"),
        ({"email": email, "password": "short"}, "password"),
        ({"email": email, "email_verified": "yes"}, "email_verified"),
        ({"email": email, "email_verified": 1}, "email_verified"),
        ({"email": email, "nickname": "x"}, "nickname"),
        ({"email": email, "organizations": "acme"}, "organizations"),
        ({"email": email, "organizations": [{}]}, "organizations[0].organization"),
        ({"email": email, "organizations": [{"organization": org["slug"], "role": "Boss!"}]},
         "organizations[0].role"),
        ({"email": email, "organizations": [{"organization": org["slug"]}, {"organization": "no-such-org"}]},
         "organizations[1].organization"),
        ({"email": email, "organizations": [{"organization": org["slug"], "extra": 1}]},
         "organizations[0].extra"),
        ({"email": email, "organizations": [{"organization": org["slug"]},
                                            {"organization": org["slug"], "role": "admin"}]}, "organizations[1]"),
        ({"email": email, "organizations": [{"organization": org["slug"]}, {"organization": org["id"]}]},
         "organizations[1]"),
        ({"email": f"<{email}>"}, "email"),
        ({"email": f'quote"{email}'}, "email"),
        ({"email": f"tab\t{email}"}, "email"),
        ({"email": f"x\u0085{email}"}, "email"),
        ({"email": "a@exa_mple.com"}, "email"),
        ({"email": "a..b@example.com"}, "email"),
        ({"email": email, "name": "nul\u0000"}, "name"),
        ([email], "body"),
        ("text", "body"),
        (None, "body"),
    ]
    for body, field in cases:
        admin.error("POST", "/accounts", 400, "invalid_request", field, json=body)
    assert admin.ok("GET", "/accounts", params={"q": email})["total"] == 0  # nothing half-created
    account = admin.account()
    for patch, field in [({"email": "nope"}, "email"), ({"email": "<a@example.com>"}, "email"),
                         ({"disabled": "true"}, "disabled"), ({"name": None}, "name"), ({"id": "x"}, "id"),
                         ({"locked": False}, "locked")]:
        admin.error("PATCH", f"/accounts/{account['id']}", 400, "invalid_request", field, json=patch)


def test_bad_paging_and_query_parameters(admin: Admin) -> None:
    for params, field in [({"limit": -1}, "limit"), ({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
                          ({"limit": "ten"}, "limit"), ({"limit": "1.5"}, "limit"), ({"offset": -1}, "offset"),
                          ({"offset": "x"}, "offset"), ({"q": "q" * 201}, "q"), ({"q": "a\u0000"}, "q"),
                          ({"limit": "9" * 30}, "limit")]:
        admin.error("GET", "/accounts", 400, "invalid_request", field, params=params)
    admin.error("GET", "/accounts?limit=1&limit=2", 400, "invalid_request", "limit")
