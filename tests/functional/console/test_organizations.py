"""Organizations and members in the console; refusals are shown on the page with their status."""

from __future__ import annotations

import secrets

from idp.accounts.service import find_organization
from tests.functional.conftest import Provider
from tests.support.console import Console, errors, notices


def test_create_rename_and_delete_an_organization(provider: Provider, console: Console) -> None:
    slug = f"acme-{secrets.token_hex(4)}"
    created = console.post("/console/organizations", {"slug": slug, "name": "Acme Inc."})
    assert created.status_code == 303
    assert created.headers["location"] == f"/console/organizations/{slug}?done=org-created"
    page = console.get(created.headers["location"])
    assert "Acme Inc." in page.text and notices(page) == ["The organization is created."]
    assert slug in console.get("/console/organizations", q=slug).text

    assert console.post(f"/console/organizations/{slug}", {"name": "Acme Corp"}).status_code == 303
    assert "Acme Corp" in console.get(f"/console/organizations/{slug}").text

    deleted = console.post(f"/console/organizations/{slug}/delete")
    assert deleted.headers["location"] == "/console/organizations?done=org-deleted"
    with provider.context.factory() as db:
        assert find_organization(db, slug) is None
    assert console.get(f"/console/organizations/{slug}").status_code == 404


def test_bad_or_taken_slugs_are_refused_on_the_page(console: Console) -> None:
    slug = f"taken-{secrets.token_hex(4)}"
    assert console.post("/console/organizations", {"slug": slug}).status_code == 303
    taken = console.post("/console/organizations", {"slug": slug})
    assert taken.status_code == 400 and errors(taken) == [f"organization {slug} exists"]
    bad = console.post("/console/organizations", {"slug": "Not A Slug!"})
    assert bad.status_code == 400 and "lowercase letters, digits and dashes" in errors(bad)[0]
    assert 'value="Not A Slug!"' in bad.text  # what was typed is kept
    long_name = console.post("/console/organizations", {"slug": f"x-{slug}", "name": "n" * 201})
    assert long_name.status_code == 400 and errors(long_name) == ["name must have at most 200 characters"]


def test_members_are_added_by_email_given_a_role_and_removed(provider: Provider, console: Console) -> None:
    slug = f"team-{secrets.token_hex(4)}"
    console.post("/console/organizations", {"slug": slug})
    user = provider.user()
    added = console.post(f"/console/organizations/{slug}/members", {"email": user.email.upper(), "role": "owner"})
    assert added.headers["location"] == f"/console/organizations/{slug}?done=member-saved"
    page = console.get(f"/console/organizations/{slug}")
    assert user.email in page.text and "<td>owner</td>" in page.text and "Members (1)" in page.text

    unknown = console.post(f"/console/organizations/{slug}/members", {"email": "nobody@example.com"})
    assert unknown.status_code == 404 and "no account with the e-mail address" in errors(unknown)[0]
    bad_role = console.post(f"/console/organizations/{slug}/members", {"email": user.email, "role": "Chief!"})
    assert bad_role.status_code == 400 and errors(bad_role)[0].startswith("role must match")

    removed = console.post(f"/console/organizations/{slug}/members/remove", {"account_id": user.id})
    assert removed.headers["location"] == f"/console/organizations/{slug}?done=member-removed"
    assert "No members yet." in console.get(f"/console/organizations/{slug}").text
    again = console.post(f"/console/organizations/{slug}/members/remove", {"account_id": user.id})
    assert again.status_code == 404 and "is not a member" in errors(again)[0]


def test_actions_on_an_unknown_organization_are_404_pages(console: Console) -> None:
    for path in ("/console/organizations/no-such-org", "/console/organizations/no-such-org/delete",
                 "/console/organizations/no-such-org/members"):
        page = console.post(path, {"name": "x", "email": "a@example.com"})
        assert page.status_code == 404 and errors(page) == ["no organization 'no-such-org'"], path


def test_an_organization_requires_a_second_factor_or_not(provider: Provider, console: Console) -> None:
    slug = f"mfa-{secrets.token_hex(4)}"
    console.post("/console/organizations", {"slug": slug})
    assert "Members may sign in with their password alone." in console.get(f"/console/organizations/{slug}").text
    saved = console.post(f"/console/organizations/{slug}/second-factor", {"required": "true"})
    assert saved.headers["location"] == f"/console/organizations/{slug}?done=policy-saved"
    with provider.context.factory() as db:
        org = find_organization(db, slug)
        assert org is not None and org.require_second_factor is True
    assert "Stop requiring a second factor" in console.get(f"/console/organizations/{slug}").text
    console.post(f"/console/organizations/{slug}/second-factor", {"required": "false"})
    with provider.context.factory() as db:
        org = find_organization(db, slug)
        assert org is not None and org.require_second_factor is False
