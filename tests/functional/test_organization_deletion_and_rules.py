"""Alert rules of a deleted organization: disabled with the organization (in its transaction), keeping its id;
the console shows the missing organization, refuses to save or resume the rule as it is, and never widens it to
every account unless the operator chooses so (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import re
import secrets
from typing import Any

import httpx
import pytest

from analytics.alerts import AlertRule
from idp.accounts import service
from idp.db import transaction
from tests.functional.conftest import Provider
from tests.support.admin_api import AdminApi
from tests.support.console import Console, errors


def _organization_with_rule(admin_api: AdminApi) -> tuple[dict[str, Any], dict[str, Any]]:
    tag = secrets.token_hex(4)
    org = admin_api.call("POST", "/organizations", 201, json={"slug": f"gone-{tag}"})
    rule = admin_api.call("POST", "/alerts/rules", 201, json={
        "name": f"quiet at {tag}", "threshold_days": 7, "organization": org["slug"],
        "emails": [f"ops-{tag}@example.com"]})
    assert rule["enabled"] and rule["organization_id"] == org["id"]
    return org, rule


def _stored(provider: Provider, rule_id: int) -> AlertRule:
    with provider.context.factory() as db:
        rule = db.get(AlertRule, rule_id)
        assert rule is not None
        return rule


def test_deleting_an_organization_disables_its_rules_and_keeps_their_organization(
        provider: Provider, admin_api: AdminApi) -> None:
    org, rule = _organization_with_rule(admin_api)
    other = admin_api.call("POST", "/alerts/rules", 201, json={
        "name": f"everyone {secrets.token_hex(3)}", "threshold_days": 7, "emails": ["ops@example.com"]})
    admin_api.call("DELETE", f"/organizations/{org['slug']}", 204)
    after = admin_api.call("GET", f"/alerts/rules/{rule['id']}")
    assert after["enabled"] is False and after["organization_id"] == org["id"]
    assert admin_api.call("GET", f"/alerts/rules/{other['id']}")["enabled"] is True  # rules of every account stay on


def test_the_rules_are_disabled_in_the_transaction_of_the_delete(provider: Provider, admin_api: AdminApi) -> None:
    org, rule = _organization_with_rule(admin_api)
    with pytest.raises(RuntimeError), transaction(provider.context.factory) as db:
        found = service.find_organization(db, org["id"])
        assert found is not None
        assert service.delete_organization(db, found) == [rule["id"]]
        raise RuntimeError("the rest of the unit of work failed")
    assert admin_api.call("GET", f"/organizations/{org['slug']}")["id"] == org["id"]
    assert _stored(provider, rule["id"]).enabled is True


def _form(page: httpx.Response) -> list[tuple[str, str]]:
    """The edit form's fields as the page fills them in (the selected organization included)."""
    form = re.search(r'<form[^>]*id="edit-rule".*?</form>', page.text, re.S)
    assert form, page.text
    text = form.group(0)
    select = re.search(r'<select id="rule-org" name="organization">(.*?)</select>', text, re.S)
    assert select
    chosen = re.findall(r'<option value="([^"]*)" selected>', select.group(1))
    name = re.search(r'id="rule-name" name="name"[^>]*value="([^"]*)"', text)
    days = re.search(r'id="rule-days" name="threshold_days"[^>]*value="([^"]*)"', text)
    emails = re.search(r'<textarea id="rule-emails" name="emails"[^>]*>([^<]*)</textarea>', text)
    assert name and days and emails
    return [("name", html.unescape(name.group(1))), ("threshold_days", days.group(1)),
            ("organization", html.unescape(chosen[0]) if chosen else ""), ("emails", html.unescape(emails.group(1))),
            ("kind", "account.inactive"), ("digest", "")]


def test_the_console_shows_the_missing_organization_and_never_widens_the_rule_unasked(
        provider: Provider, admin_api: AdminApi, console: Console) -> None:
    org, rule = _organization_with_rule(admin_api)
    assert console.post(f"/console/organizations/{org['slug']}/delete").status_code == 303
    assert _stored(provider, rule["id"]).enabled is False

    page = console.get(f"/console/alerts/{rule['id']}")
    assert page.status_code == 200
    assert f"organization {org['id']} no longer exists" in html.unescape(page.text)  # the rule's warning
    form = _form(page)
    assert ("organization", org["id"]) in form  # selected as it is, not "All accounts"

    renamed = [(k, "renamed only" if k == "name" else v) for k, v in form]
    refused = console.post(f"/console/alerts/{rule['id']}", renamed)
    assert refused.status_code == 400, refused.text
    assert errors(refused)[0].startswith(f"organization {org['id']} no longer exists (it was deleted): choose "
                                         "another organization, or all accounts")
    assert _form(refused)[2] == ("organization", org["id"])  # the page shown again still says so
    stored = _stored(provider, rule["id"])
    assert stored.organization == org["id"] and stored.name == rule["name"] and not stored.enabled

    resumed = console.post(f"/console/alerts/{rule['id']}/enabled", {"enabled": "true"})
    assert resumed.status_code == 400 and "no longer exists" in errors(resumed)[0]
    assert _stored(provider, rule["id"]).enabled is False
    listing = console.get("/console/alerts").text
    assert f"{org['id']} (deleted)" in listing

    widened = [(k, "" if k == "organization" else v) for k, v in renamed] + [("enabled", "on")]
    assert console.post(f"/console/alerts/{rule['id']}", widened).status_code == 303  # chosen by the operator
    stored = _stored(provider, rule["id"])
    assert stored.organization is None and stored.name == "renamed only" and stored.enabled
    assert "no longer exists" not in console.get(f"/console/alerts/{rule['id']}").text
