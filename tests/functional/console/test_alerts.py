"""Alert rules, webhook endpoints (with a test notification) and deliveries in the console."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from analytics.alerts import AlertRule, Delivery, create_webhook_endpoint
from idp.db import transaction
from tests.functional.conftest import Provider
from tests.support.console import Console, errors, notices, text_of
from tests.support.webhooks import Receiver


def _endpoint(provider: Provider, url: str = "https://hooks.example.com/x") -> int:
    with transaction(provider.context.factory) as db:
        return create_webhook_endpoint(db, url, allow_private=True).id  # the receivers listen on loopback


def _rule(provider: Provider, name: str) -> AlertRule:
    with provider.context.factory() as db:
        found = [r for r in db.query(AlertRule).filter(AlertRule.name == name)]
        assert len(found) == 1
        return found[0]


def test_a_rule_is_created_paused_resumed_and_deleted(provider: Provider, console: Console) -> None:
    endpoint = _endpoint(provider)
    slug = f"alerts-{secrets.token_hex(4)}"
    console.post("/console/organizations", {"slug": slug})
    name = f"quiet {secrets.token_hex(4)}"
    created = console.post("/console/alerts", [("name", name), ("threshold_days", "7"), ("organization", slug),
                                               ("webhook_ids", str(endpoint)), ("emails", "Ops@Example.com"),
                                               ("enabled", "on")])
    assert created.headers["location"] == "/console/alerts?done=rule-created"
    rule = _rule(provider, name)
    assert rule.threshold_days == 7 and rule.enabled and rule.organization is not None
    assert [c.endpoint_id for c in rule.channels if c.endpoint_id] == [endpoint]
    assert [c.email for c in rule.channels if c.email] == ["ops@example.com"]
    page = console.get("/console/alerts")
    assert name in page.text and f">{slug}<" in page.text and "7 days" in page.text

    assert console.post(f"/console/alerts/{rule.id}/enabled", {"enabled": "false"}).status_code == 303
    assert _rule(provider, name).enabled is False
    assert console.post(f"/console/alerts/{rule.id}/enabled", {"enabled": "true"}).status_code == 303
    assert _rule(provider, name).enabled is True
    assert console.post(f"/console/alerts/{rule.id}/delete").headers["location"] == "/console/alerts?done=rule-deleted"
    assert name not in console.get("/console/alerts").text
    gone = console.post(f"/console/alerts/{rule.id}/delete")
    assert gone.status_code == 404 and f"no alert rule {rule.id}" in errors(gone)  # beside any SMTP warning


def test_rule_refusals_come_from_the_rules_service_with_the_field(provider: Provider, console: Console) -> None:
    endpoint = str(_endpoint(provider))
    cases = [
        ([("name", "r"), ("threshold_days", "0"), ("webhook_ids", endpoint)], "threshold_days must be a whole number"),
        ([("name", "r"), ("threshold_days", "3651"), ("webhook_ids", endpoint)], "threshold_days must be a whole"),
        ([("name", "r"), ("threshold_days", "seven"), ("webhook_ids", endpoint)], "threshold_days must be a whole"),
        ([("name", " "), ("threshold_days", "7"), ("webhook_ids", endpoint)], "name must not be empty"),
        ([("name", "r"), ("threshold_days", "7")], "webhook_ids give at least one webhook endpoint or e-mail"),
        ([("name", "r"), ("threshold_days", "7"), ("webhook_ids", "999999")], "webhook_ids[0] no webhook endpoint"),
        ([("name", "r"), ("threshold_days", "7"), ("emails", "not-an-address")], "emails[0] not an e-mail address"),
        ([("name", "r"), ("threshold_days", "7"), ("emails", "a@example.com"), ("organization", "nope-x")],
         "organization no organization 'nope-x'"),
    ]
    for form, message in cases:
        page = console.post("/console/alerts", form)
        assert page.status_code == 400 and errors(page)[0].startswith(message), (form, errors(page))


def test_email_recipients_without_smtp_are_warned_about(provider: Provider, console: Console) -> None:
    page = console.get("/console/alerts")
    assert "SMTP is not configured" in page.text  # the shared provider has no SMTP
    console.post("/console/alerts", {"name": f"mail {secrets.token_hex(3)}", "threshold_days": "3",
                                     "emails": "ops@example.com", "enabled": "on"})
    listing = console.get("/console/alerts").text
    assert re.search(r'<p class="warning" role="status">SMTP is not configured[^<]*development outbox', listing)
    assert not any("SMTP" in e for e in errors(console.get("/console/alerts")))  # a warning, not an error


def test_a_webhook_endpoint_is_added_with_its_secret_shown_once(console: Console) -> None:
    created = console.post("/console/webhooks", {"url": "https://hooks.example.com/canary", "description": "ops"})
    assert created.status_code == 201 and text_of(created, "webhook-secret").startswith("whsec_")
    listing = console.get("/console/webhooks")
    assert "https://hooks.example.com/canary" in listing.text and "whsec_" not in listing.text
    bad = console.post("/console/webhooks", {"url": "ftp://hooks.example.com/"})
    assert bad.status_code == 400 and errors(bad) == ["url must be an http(s) URL with a host"]


def test_a_test_notification_is_signed_and_its_outcome_shown(provider: Provider, console: Console,
                                                              receiver: str) -> None:
    endpoint = _endpoint(provider, receiver)
    with provider.context.factory() as db:
        from analytics.alerts import get_webhook_endpoint

        secret = get_webhook_endpoint(db, endpoint).secret
    page = console.post(f"/console/webhooks/{endpoint}/test")
    assert page.status_code == 200 and text_of(page, "test-result").startswith("Test notification delivered")
    headers, body = Receiver.received[-1]
    message = Webhook(secret).verify(body, headers)
    assert message["type"] == "canary.test" and message["data"]["webhook_id"] == endpoint
    with provider.context.factory() as db:
        assert db.query(Delivery).filter(Delivery.endpoint_id == endpoint).count() == 0  # not queued

    down = _endpoint(provider, "http://127.0.0.1:9/closed")
    failed = console.post(f"/console/webhooks/{down}/test")
    assert failed.status_code == 200 and "failed: ConnectError" in text_of(failed, "test-result")
    assert console.post("/console/webhooks/999999/test").status_code == 404


def test_webhook_endpoints_are_enabled_and_deleted(provider: Provider, console: Console) -> None:
    endpoint = _endpoint(provider)
    with transaction(provider.context.factory) as db:
        from analytics.alerts import get_webhook_endpoint

        stored = get_webhook_endpoint(db, endpoint)
        stored.disabled_at, stored.disabled_reason = datetime.now(UTC), "the endpoint answered 410 Gone"
    assert "410 Gone" in console.get("/console/webhooks").text
    enabled = console.post(f"/console/webhooks/{endpoint}/enable")
    assert enabled.headers["location"] == "/console/webhooks?done=webhook-enabled"
    name = f"uses {secrets.token_hex(3)}"
    console.post("/console/alerts", {"name": name, "threshold_days": "5", "webhook_ids": str(endpoint),
                                     "enabled": "on"})
    in_use = console.post(f"/console/webhooks/{endpoint}/delete")
    assert in_use.status_code == 409 and "is used by alert rule(s)" in errors(in_use)[0]
    console.post(f"/console/alerts/{_rule(provider, name).id}/delete")
    deleted = console.post(f"/console/webhooks/{endpoint}/delete")
    assert deleted.headers["location"] == "/console/webhooks?done=webhook-deleted"
    assert notices(console.get(deleted.headers["location"])) == ["The webhook endpoint is deleted."]


def test_deliveries_are_listed_newest_first_and_filtered(provider: Provider, console: Console) -> None:
    endpoint = _endpoint(provider)
    account = provider.user()
    now = datetime.now(UTC)
    with transaction(provider.context.factory) as db:
        for status, error in (("failed", "HTTP 500"), ("delivered", None)):
            db.add(Delivery(message_id=f"msg_{secrets.token_hex(8)}", endpoint_id=endpoint,
                            event_type="account.inactive", account=account.id, payload=json.dumps({}),
                            attempts=1, status=status, next_attempt_at=now, last_error=error, created_at=now))
    page = console.get("/console/deliveries")
    assert page.status_code == 200 and account.id in page.text and "HTTP 500" in page.text
    failed = console.get("/console/deliveries", status="failed")
    assert "HTTP 500" in failed.text and 'tag good">delivered<' not in failed.text
    bad = console.get("/console/deliveries", status="lost")
    assert bad.status_code == 400 and errors(bad) == ["status must be one of pending, delivered, failed"]


def test_a_rule_is_edited_through_the_rules_service(provider: Provider, console: Console) -> None:
    first, second = _endpoint(provider), _endpoint(provider, "https://hooks.example.com/second")
    name = f"edit me {secrets.token_hex(3)}"
    console.post("/console/alerts", [("name", name), ("threshold_days", "7"), ("webhook_ids", str(first)),
                                     ("emails", "a@example.com"), ("enabled", "on")])
    rule = _rule(provider, name)
    page = console.get(f"/console/alerts/{rule.id}")
    assert page.status_code == 200 and f'value="{name}"' in page.text and ">a@example.com</textarea>" in page.text
    assert f'value="{first}" checked' in page.text and f'value="{second}" checked' not in page.text
    saved = console.post(f"/console/alerts/{rule.id}", [("name", name), ("threshold_days", "30"),
                                                        ("webhook_ids", str(second)), ("emails", "")])
    assert saved.headers["location"] == "/console/alerts?done=rule-updated"
    changed = _rule(provider, name)
    assert changed.threshold_days == 30 and changed.enabled is False
    assert [c.endpoint_id for c in changed.channels] == [second]
    refused = console.post(f"/console/alerts/{rule.id}", [("name", name), ("threshold_days", "30"), ("emails", "")])
    assert refused.status_code == 400 and errors(refused)[0].startswith("webhook_ids give at least one")
    assert 'value="30"' in refused.text  # the posted values stay on the page
    assert _rule(provider, name).channels  # nothing changed
    assert console.get("/console/alerts/999999").status_code == 404
    assert console.get("/console/alerts/abc").status_code == 404


def test_a_webhook_endpoint_is_edited_and_its_secret_replaced(provider: Provider, console: Console,
                                                               receiver: str) -> None:
    endpoint = _endpoint(provider)
    page = console.get(f"/console/webhooks/{endpoint}")
    assert page.status_code == 200 and 'value="https://hooks.example.com/x"' in page.text and "whsec_" not in page.text
    saved = console.post(f"/console/webhooks/{endpoint}", {"url": receiver, "description": "moved"})
    assert saved.headers["location"] == f"/console/webhooks/{endpoint}?done=webhook-updated"
    bad = console.post(f"/console/webhooks/{endpoint}", {"url": "not a url", "description": ""})
    assert bad.status_code == 400 and errors(bad)[0].startswith("url must")
    replaced = console.post(f"/console/webhooks/{endpoint}/secret")
    secret = text_of(replaced, "webhook-secret")
    assert replaced.status_code == 200 and secret.startswith("whsec_") and "Signing secret replaced" in replaced.text
    tested = console.post(f"/console/webhooks/{endpoint}/test")
    assert text_of(tested, "test-result").startswith("Test notification delivered")
    headers, body = Receiver.received[-1]
    assert Webhook(secret).verify(body, headers)["type"] == "canary.test"  # signed with the new secret
    assert console.get("/console/webhooks/999999").status_code == 404
