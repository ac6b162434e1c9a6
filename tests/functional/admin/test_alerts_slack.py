"""/admin/api/v1/alerts/webhooks: the `format` of an endpoint (`standard` or `slack`) over HTTP."""

from __future__ import annotations

import json

from analytics.alerts import slack_text
from idp.alerting import organization_namer
from tests.functional.admin.conftest import Admin
from tests.functional.conftest import Provider

URL = "https://hooks.example.invalid/slack"  # never sent to


def test_webhook_format_is_stored_shown_and_changed(admin: Admin) -> None:
    created = admin.ok("POST", "/alerts/webhooks", 201, json={"url": URL, "format": "slack"})
    assert created["format"] == "slack"
    path = f"/alerts/webhooks/{created['id']}"
    assert admin.ok("GET", path)["format"] == "slack"
    assert admin.ok("PATCH", path, json={"format": "standard"})["format"] == "standard"
    assert admin.ok("POST", "/alerts/webhooks", 201, json={"url": URL})["format"] == "standard"


def test_unknown_format_is_a_400_naming_the_field(admin: Admin) -> None:
    for value in ("teams", "", "SLACK", 1, None):
        refused = admin.error("POST", "/alerts/webhooks", 400, "invalid_request", "format",
                              json={"url": URL, "format": value})
        assert refused["error_description"].startswith("format must be"), refused
        if isinstance(value, str):
            assert refused["error_description"] == "format must be one of 'standard', 'slack'"
    endpoint = admin.ok("POST", "/alerts/webhooks", 201, json={"url": URL, "format": "slack"})
    refused = admin.error("PATCH", f"/alerts/webhooks/{endpoint['id']}", 400, "invalid_request", "format",
                          json={"format": "discord"})
    assert "slack" in refused["error_description"] and "standard" in refused["error_description"]
    assert admin.ok("GET", f"/alerts/webhooks/{endpoint['id']}")["format"] == "slack"


def test_the_provider_names_organizations_by_slug_in_slack_text(admin: Admin, provider: Provider) -> None:
    organization = admin.organization()
    namer = organization_namer(provider.context.factory)
    assert namer(organization["id"]) == organization["slug"] and namer("no-such-organization") is None
    body = json.dumps({"type": "account.inactive", "data": {"account": "u1", "email": "ann@example.com",
                       "organization": organization["id"], "inactive_days": 9, "threshold_days": 7}})
    assert slack_text(body, namer) == (f"Canary: ann@example.com ({organization['slug']}) has been inactive for 9 "
                                       "days (rule threshold 7 days)")


def test_rule_digest_is_stored_shown_and_checked(admin: Admin) -> None:
    created = admin.ok("POST", "/alerts/rules", 201, json={"name": "digest", "threshold_days": 7,
                                                           "emails": ["owner@example.com"], "digest": "weekly"})
    assert created["digest"] == "weekly"
    path = f"/alerts/rules/{created['id']}"
    assert admin.ok("PATCH", path, json={"digest": None})["digest"] is None
    assert admin.ok("PATCH", path, json={"digest": "daily"})["digest"] == "daily"
    refused = admin.error("PATCH", path, 400, "invalid_request", "digest", json={"digest": "hourly"})
    assert "daily" in refused["error_description"]
    assert admin.ok("GET", path)["digest"] == "daily"
