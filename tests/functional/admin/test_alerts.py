"""/admin/api/v1/alerts (rules, webhook endpoints, deliveries) over HTTP.

Rule and endpoint management needs no analytics: it runs on the shared provider of the admin tests. The
deliveries are made by the real alert service (detection over a ClickHouse database of the test server,
webhooks answered by an in-process transport) on the same accounts database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from analytics.alerts import (
    MAX_EMAILS,
    MAX_NAME_LENGTH,
    MAX_THRESHOLD_DAYS,
    MAX_WEBHOOKS,
    MIN_THRESHOLD_DAYS,
    AccountAlertState,
    AlertConfigError,
    AlertService,
    AlertSettings,
    WebhookEndpoint,
    create_rule,
)
from analytics.api import Event
from analytics.clickhouse import ClickHouse, ServerEngine
from analytics.migrations import migrate
from idp.accounts.models import User
from idp.db import transaction
from idp.directory import SqlAccountDirectory
from tests.functional.admin.conftest import Admin, Spec, new_token, unique, validation_agreement
from tests.functional.conftest import Provider

NOWHERE = "https://hooks.example.invalid/hook"  # never sent to: deliveries here go to an in-process transport


def webhook(admin: Admin, **fields: Any) -> dict[str, Any]:
    fields.setdefault("url", NOWHERE)
    result: dict[str, Any] = admin.ok("POST", "/alerts/webhooks", 201, json=fields)
    return result


def rule(admin: Admin, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", f"rule {unique()}")
    fields.setdefault("threshold_days", 14)
    if "webhook_ids" not in fields and "emails" not in fields:
        fields["emails"] = ["owner@example.com"]
    result: dict[str, Any] = admin.ok("POST", "/alerts/rules", 201, json=fields)
    return result


# --- webhook endpoints -------------------------------------------------------------------------------------
def test_webhook_secret_is_shown_once(admin: Admin) -> None:
    created = webhook(admin, url="https://hooks.example.com/canary", description="CRM")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["url"] == "https://hooks.example.com/canary" and created["description"] == "CRM"
    assert created["disabled"] is False and created["disabled_at"] is None and created["failure_count"] == 0
    fetched = admin.ok("GET", f"/alerts/webhooks/{created['id']}")
    assert "secret" not in fetched and fetched == {k: v for k, v in created.items() if k != "secret"}
    mine = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert webhook(admin, secret=mine)["secret"] == mine
    listed = admin.ok("GET", "/alerts/webhooks", params={"limit": 200})
    assert created["id"] in {e["id"] for e in listed["items"]} and all("secret" not in e for e in listed["items"])


def test_webhook_url_must_be_http_or_https(admin: Admin) -> None:
    for url in ("ftp://example.com/hook", "javascript:alert(1)", "example.com/hook", "http://", "https:///path",
                "http://[::1", "file:///etc/passwd", "http://exa mple.com/", "mailto:a@example.com", "",
                "https://example.com:abc/x", "https://example.com:99999/x", "https://xn--/x",
                f"https://{'a' * 70}.com/x", "https://ex\u2024ample.com/x"):
        admin.error("POST", "/alerts/webhooks", 400, "invalid_request", "url", json={"url": url})
    for body, field in [({}, "url"), ({"url": 5}, "url"), ({"url": "https://x.example", "secret": "nope"}, "secret"),
                        ({"url": "https://x.example", "secret": "whsec_!!notbase64"}, "secret"),
                        ({"url": "https://x.example", "secret": "whsec_c2hvcnQ="}, "secret"),
                        ({"url": "https://x.example", "secret": "whsec_\u00e9"}, "secret"),
                        ({"url": "https://x.example", "description": "d" * 501}, "description"),
                        ({"url": "https://x.example", "enabled": True}, "enabled"), ([], "body")]:
        admin.error("POST", "/alerts/webhooks", 400, "invalid_request", field, json=body)
    endpoint = webhook(admin)
    admin.error("PATCH", f"/alerts/webhooks/{endpoint['id']}", 400, "invalid_request", "url",
                json={"url": "gopher://example.com"})
    admin.error("PATCH", f"/alerts/webhooks/{endpoint['id']}", 400, "invalid_request", "secret",
                json={"secret": "whsec_"})
    admin.error("PATCH", f"/alerts/webhooks/{endpoint['id']}", 400, "invalid_request", "secret",
                json={"secret": "whsec_\u00e9"})
    admin.error("PATCH", f"/alerts/webhooks/{endpoint['id']}", 400, "invalid_request", "url",
                json={"url": "https://example.com:abc/x"})
    assert admin.ok("GET", f"/alerts/webhooks/{endpoint['id']}")["url"] == NOWHERE


def test_webhook_patch_enable_and_delete(admin: Admin, provider: Provider) -> None:
    endpoint = webhook(admin)
    path = f"/alerts/webhooks/{endpoint['id']}"
    changed = admin.ok("PATCH", path, json={"url": "https://hooks.example.invalid/other", "description": "moved"})
    assert changed["url"] == "https://hooks.example.invalid/other" and changed["description"] == "moved"
    secret = "whsec_" + "Y2FuYXJ5LWNhbmFyeS1jYW5hcnktY2FuYXJ5"
    assert "secret" not in admin.ok("PATCH", path, json={"secret": secret})
    with transaction(provider.context.factory) as db:
        stored = db.get(WebhookEndpoint, endpoint["id"])
        assert stored is not None and stored.secret == secret
        stored.disabled_at, stored.disabled_reason, stored.failure_count = datetime.now(UTC), "410 Gone", 3
    disabled = admin.ok("GET", path)
    assert disabled["disabled"] is True and disabled["disabled_reason"] == "410 Gone" and disabled["failure_count"] == 3
    enabled = admin.ok("POST", f"{path}/enable")
    assert (enabled["disabled"], enabled["disabled_at"], enabled["disabled_reason"], enabled["failure_count"]) == (
        False, None, None, 0)
    used = rule(admin, webhook_ids=[endpoint["id"]])
    conflict = admin.error("DELETE", path, 409, "conflict")
    assert str(used["id"]) in conflict["error_description"]
    admin.ok("DELETE", f"/alerts/rules/{used['id']}", 204)
    admin.ok("DELETE", path, 204)
    for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/enable")]:
        admin.error(method, path + suffix, 404, "not_found", json={} if method == "PATCH" else None)


# --- rules -------------------------------------------------------------------------------------------------
def test_rule_create_get_list_patch_delete(admin: Admin) -> None:
    org = admin.organization()
    first, second = webhook(admin), webhook(admin)
    created = rule(admin, name="  Quiet customers ", threshold_days=21, organization=org["slug"],
                   webhook_ids=[first["id"], second["id"]], emails=["Ops@Example.com"])
    assert created["name"] == "Quiet customers" and created["threshold_days"] == 21
    assert created["organization_id"] == org["id"] and created["enabled"] is True
    assert created["webhook_ids"] == [first["id"], second["id"]] and created["emails"] == ["ops@example.com"]
    path = f"/alerts/rules/{created['id']}"
    assert admin.ok("GET", path) == created
    by_id = rule(admin, organization=org["id"], enabled=False)
    assert by_id["organization_id"] == org["id"] and by_id["enabled"] is False
    everyone = rule(admin, organization=None)
    assert everyone["organization_id"] is None
    page = admin.ok("GET", "/alerts/rules", params={"limit": 200})
    ids = [r["id"] for r in page["items"]]
    assert {created["id"], by_id["id"], everyone["id"]} <= set(ids) and ids == sorted(ids)
    assert page["total"] >= 3
    two = admin.ok("GET", "/alerts/rules", params={"offset": ids.index(created["id"]), "limit": 2})
    assert [r["id"] for r in two["items"]] == [created["id"], by_id["id"]]

    patched = admin.ok("PATCH", path, json={"name": "Renamed", "enabled": False, "webhook_ids": [second["id"]]})
    assert patched["name"] == "Renamed" and patched["enabled"] is False
    assert patched["webhook_ids"] == [second["id"]] and patched["emails"] == ["ops@example.com"]
    patched = admin.ok("PATCH", path, json={"emails": [], "organization": None, "threshold_days": 3})
    assert patched["emails"] == [] and patched["organization_id"] is None and patched["threshold_days"] == 3
    assert admin.ok("PATCH", path, json={}) == patched
    assert admin.ok("GET", path) == patched
    for done in (created, by_id, everyone):
        admin.ok("DELETE", f"/alerts/rules/{done['id']}", 204)
    admin.error("GET", path, 404, "not_found")
    admin.error("DELETE", path, 404, "not_found")
    admin.error("PATCH", path, 404, "not_found", json={"name": "x"})


def test_new_threshold_or_organization_starts_the_rule_afresh(admin: Admin, provider: Provider) -> None:
    org = admin.organization()
    created = rule(admin, organization=org["slug"], threshold_days=7)
    path = f"/alerts/rules/{created['id']}"

    def states() -> list[str]:
        with provider.context.factory() as db:
            return list(db.scalars(select(AccountAlertState.account).where(
                AccountAlertState.rule_id == created["id"])))

    def notified() -> None:
        with transaction(provider.context.factory) as db:
            db.add(AccountAlertState(rule_id=created["id"], account="acct-x", state="inactive",
                                     changed_at=datetime.now(UTC)))

    notified()
    admin.ok("PATCH", path, json={"name": "same terms", "threshold_days": 7, "organization": org["id"],
                                  "enabled": False})
    assert states() == ["acct-x"]
    admin.ok("PATCH", path, json={"threshold_days": 30})
    assert states() == []
    notified()
    admin.ok("PATCH", path, json={"organization": None})
    assert states() == []
    admin.ok("DELETE", path, 204)


def test_bad_rule_fields_are_400_naming_the_field(admin: Admin) -> None:
    endpoint = webhook(admin)
    good = {"name": "r", "threshold_days": 7, "emails": ["a@example.com"]}
    cases: list[tuple[Any, str]] = [
        ({**good, "threshold_days": 0}, "threshold_days"),
        ({**good, "threshold_days": -3}, "threshold_days"),
        ({**good, "threshold_days": "7"}, "threshold_days"),
        ({**good, "threshold_days": 1.5}, "threshold_days"),
        ({**good, "threshold_days": 10**9}, "threshold_days"),
        ({**good, "threshold_days": MAX_THRESHOLD_DAYS + 1}, "threshold_days"),
        ({"name": "r", "emails": ["a@example.com"]}, "threshold_days"),
        ({**good, "name": ""}, "name"),
        ({**good, "name": "   "}, "name"),
        ({**good, "name": "n" * 201}, "name"),
        ({"threshold_days": 7, "emails": ["a@example.com"]}, "name"),
        ({"name": "r", "threshold_days": 7}, "webhook_ids"),
        ({"name": "r", "threshold_days": 7, "webhook_ids": [], "emails": []}, "webhook_ids"),
        ({**good, "webhook_ids": [endpoint["id"], 2_000_000_000]}, "webhook_ids[1]"),
        ({**good, "webhook_ids": [endpoint["id"], endpoint["id"]]}, "webhook_ids[1]"),
        ({**good, "webhook_ids": ["1"]}, "webhook_ids[0]"),
        ({**good, "webhook_ids": [0]}, "webhook_ids[0]"),
        ({**good, "webhook_ids": [2**40]}, "webhook_ids[0]"),
        ({**good, "emails": ["not an address"]}, "emails[0]"),
        ({**good, "emails": ["a@example.com", "A@example.com"]}, "emails"),
        ({**good, "emails": "a@example.com"}, "emails"),
        ({**good, "organization": f"nope-{unique()}"}, "organization"),
        ({**good, "organization": ""}, "organization"),
        ({**good, "organization": 5}, "organization"),
        ({**good, "enabled": "yes"}, "enabled"),
        ({**good, "channels": []}, "channels"),
        ("rule", "body"),
    ]
    for body, field in cases:
        admin.error("POST", "/alerts/rules", 400, "invalid_request", field, json=body)
    created = rule(admin, webhook_ids=[endpoint["id"]])
    path = f"/alerts/rules/{created['id']}"
    for body, field in [({"webhook_ids": []}, "webhook_ids"), ({"threshold_days": 0}, "threshold_days"),
                        ({"name": " "}, "name"), ({"organization": "no-such-org"}, "organization"),
                        ({"emails": ["x"]}, "emails[0]"), ({"webhook_ids": [999_999_999]}, "webhook_ids[0]"),
                        ({"id": 3}, "id"), ({"enabled": None}, "enabled")]:
        admin.error("PATCH", path, 400, "invalid_request", field, json=body)
    assert admin.ok("GET", path) == created
    admin.ok("PATCH", path, json={"webhook_ids": [], "emails": ["b@example.com"]})
    admin.ok("DELETE", path, 204)


def test_unknown_or_malformed_ids_are_404(admin: Admin) -> None:
    for kind in ("rules", "webhooks"):
        for value in ("999999999", "0", "-1", "abc", "1.0", "99999999999", "%00", "0001"):
            admin.error("GET", f"/alerts/{kind}/{value}", 404, "not_found")
            admin.error("DELETE", f"/alerts/{kind}/{value}", 404, "not_found")
        admin.error("PATCH", f"/alerts/{kind}/999999999", 404, "not_found", json={})
    admin.error("POST", "/alerts/webhooks/999999999/enable", 404, "not_found")


def test_non_admin_token_is_403(admin: Admin, provider: Provider) -> None:
    token = new_token(provider, scope="events:write", first_party=True)
    for method, path in [("GET", "/alerts/rules"), ("POST", "/alerts/rules"), ("GET", "/alerts/webhooks"),
                         ("POST", "/alerts/webhooks"), ("GET", "/alerts/deliveries"),
                         ("DELETE", "/alerts/rules/1"), ("POST", "/alerts/webhooks/1/enable")]:
        response = admin.request(method, path, token=token, json={"url": "https://x.example"})
        assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"


def test_bad_delivery_filters(admin: Admin) -> None:
    for params, field in [({"status": "sent"}, "status"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset")]:
        admin.error("GET", "/alerts/deliveries", 400, "invalid_request", field, params=params)


SAMPLES: list[tuple[str, object]] = [
    ("AlertRuleCreate", {"name": "r", "threshold_days": 1, "emails": ["a@example.com"]}),
    ("AlertRuleCreate", {"name": "r", "threshold_days": 1, "organization": None, "webhook_ids": [1, 2]}),
    ("AlertRuleCreate", {"name": "r", "threshold_days": 0}),
    ("AlertRuleCreate", {"name": "r", "threshold_days": 1, "webhook_ids": [1, 1]}),
    ("AlertRuleCreate", {"name": "r", "threshold_days": 1, "organization": ""}),
    ("AlertRuleCreate", {"name": "", "threshold_days": 1}),
    ("AlertRuleCreate", {"threshold_days": 1}),
    ("AlertRuleUpdate", {}),
    ("AlertRuleUpdate", {"organization": None, "enabled": False}),
    ("AlertRuleUpdate", {"enabled": None}),
    ("WebhookEndpointCreate", {"url": "https://x.example"}),
    ("WebhookEndpointCreate", {"url": "https://x.example", "secret": "whsec_abc"}),
    ("WebhookEndpointCreate", {"url": "https://x.example", "secret": "abc"}),
    ("WebhookEndpointCreate", {"url": ""}),
    ("WebhookEndpointUpdate", {"description": "d"}),
    ("WebhookEndpointUpdate", {"disabled": True}),
]


def test_request_validation_agrees_with_the_published_schemas(spec: Spec) -> None:
    agreed = validation_agreement(spec, SAMPLES)
    assert agreed[True] >= 6 and agreed[False] >= 7


LONGEST_DOMAIN = ".".join(["b" * 63] * 4)  # 255 characters, in labels of at most 63


def _bounds() -> list[tuple[str, object]]:
    """Bodies at each bound of a rule, inside and just outside, by e-mail only (no endpoint to look up)."""
    good: dict[str, Any] = {"name": "r", "threshold_days": 7, "emails": ["a@example.com"]}
    return [("AlertRuleCreate", {**good, **change}) for change in [
        {}, {"threshold_days": MIN_THRESHOLD_DAYS}, {"threshold_days": MAX_THRESHOLD_DAYS},
        {"threshold_days": MIN_THRESHOLD_DAYS - 1}, {"threshold_days": MAX_THRESHOLD_DAYS + 1},
        {"threshold_days": 1_000_000}, {"name": "n" * MAX_NAME_LENGTH}, {"name": "n" * (MAX_NAME_LENGTH + 1)},
        {"name": ""}, {"emails": [f"{'a' * 64}@{LONGEST_DOMAIN}"]}, {"emails": [f"{'a' * 64}@{LONGEST_DOMAIN}b"]},
        {"emails": ["a@"]}, {"emails": [f"r{i}@example.com" for i in range(MAX_EMAILS)]},
        {"emails": [f"r{i}@example.com" for i in range(MAX_EMAILS + 1)]},
        {"webhook_ids": [], "emails": [f"r{i}@example.com" for i in range(MAX_EMAILS)]},
        {"webhook_ids": list(range(1, MAX_WEBHOOKS + 2))},
    ]]


def test_the_rules_service_and_the_published_schemas_agree_on_every_bound(spec: Spec, provider: Provider) -> None:
    def accepted(name: str, body: Any) -> bool:
        with provider.context.factory() as db:
            try:
                create_rule(db, body["name"], body["threshold_days"], None, body.get("webhook_ids", ()),
                            body.get("emails", ()))
            except AlertConfigError:
                return False
            finally:
                db.rollback()
        return True

    agreed = validation_agreement(spec, _bounds(), service=accepted)
    assert agreed[True] >= 5 and agreed[False] >= 8


# --- deliveries made by the alert service ------------------------------------------------------------------
class Receivers:
    """Webhook receivers by path: /ok answers 204, /fail 500, /gone 410."""

    def __init__(self) -> None:
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        status = {"/ok": 204, "/fail": 500, "/gone": 410}.get(request.url.path, 404)
        return httpx.Response(status)


@pytest.fixture
def events_store(request: pytest.FixtureRequest) -> Iterator[ClickHouse]:
    """A fresh database on the ClickHouse test server."""
    engine = ServerEngine(request.getfixturevalue("server_database"))
    migrate(engine)
    yield engine
    engine.close()


def test_deliveries_show_status_attempts_and_errors(admin: Admin, provider: Provider,
                                                    events_store: ClickHouse) -> None:
    org = admin.organization()
    accounts = [admin.account(organizations=[{"organization": org["slug"]}]) for _ in range(2)]
    admin.account(organizations=[{"organization": org["slug"]}])  # new: not inactive yet
    created_at = datetime.now(UTC) - timedelta(days=10)
    with transaction(provider.context.factory) as db:
        for account in accounts:
            user = db.get(User, account["id"])
            assert user is not None
            user.created_at = created_at
    base = "http://receiver.invalid"
    ok, fail, gone = (webhook(admin, url=f"{base}/{path}") for path in ("ok", "fail", "gone"))
    created = rule(admin, threshold_days=5, organization=org["slug"], webhook_ids=[ok["id"], fail["id"], gone["id"]],
                   emails=["owner@example.com"])
    receivers = Receivers()
    factory = provider.context.factory
    now = datetime.now(UTC)
    with AlertService(factory, events_store, SqlAccountDirectory(factory), AlertSettings(),
                      transport=httpx.MockTransport(receivers)) as service:
        report = service.run_once(now)
    mine = {a["id"] for a in accounts}
    assert {t.account for t in report.transitions if t.rule_id == created["id"]} == mine

    deliveries = [d for d in admin.ok("GET", "/alerts/deliveries", params={"limit": 200})["items"]
                  if d["rule_id"] == created["id"]]
    assert len(deliveries) == 8 and {d["account"] for d in deliveries} == mine
    assert {d["type"] for d in deliveries} == {"account.inactive"}
    by_channel: dict[Any, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        by_channel.setdefault(delivery["webhook_id"] or delivery["email"], []).append(delivery)
    for delivery in by_channel[ok["id"]]:
        assert delivery["status"] == "delivered" and delivery["attempts"] == 1 and delivery["last_error"] is None
        assert delivery["delivered_at"] is not None and delivery["next_attempt_at"] is None
        assert delivery["email"] is None and delivery["message_id"].startswith("msg_")
    for delivery in by_channel[fail["id"]]:
        assert delivery["status"] == "pending" and delivery["attempts"] == 1 and delivery["last_error"] == "HTTP 500"
        retry = datetime.fromisoformat(delivery["next_attempt_at"])
        assert abs(retry - (now + timedelta(seconds=5))) < timedelta(seconds=1)
    assert sorted(d["status"] for d in by_channel[gone["id"]]) == ["failed", "failed"]
    for delivery in by_channel["owner@example.com"]:
        assert delivery["status"] == "pending" and delivery["webhook_id"] is None
        assert delivery["last_error"] == "e-mail is not configured"

    disabled = admin.ok("GET", f"/alerts/webhooks/{gone['id']}")
    assert disabled["disabled"] is True and "410" in disabled["disabled_reason"] and disabled["disabled_at"]
    assert disabled["failure_count"] == 1
    assert admin.ok("GET", f"/alerts/webhooks/{fail['id']}")["failure_count"] == 2
    assert admin.ok("GET", f"/alerts/webhooks/{ok['id']}")["failure_count"] == 0
    assert admin.ok("POST", f"/alerts/webhooks/{gone['id']}/enable")["disabled"] is False

    for status in ("pending", "delivered", "failed"):
        page = admin.ok("GET", "/alerts/deliveries", params={"status": status, "limit": 200})
        assert page["items"] and {d["status"] for d in page["items"]} == {status}
        assert {d["id"] for d in deliveries if d["status"] == status} <= {d["id"] for d in page["items"]}
    first = admin.ok("GET", "/alerts/deliveries", params={"limit": 3})
    assert len(first["items"]) == 3 and first["total"] >= 8
    ids = [d["id"] for d in admin.ok("GET", "/alerts/deliveries", params={"limit": 200})["items"]]
    assert [d["id"] for d in first["items"]] == ids[:3]
    assert [d["id"] for d in admin.ok("GET", "/alerts/deliveries", params={"offset": 3, "limit": 2})["items"]] == \
        ids[3:5]

    # One account is active again: one "account.reactivated" per channel still enabled.
    back = accounts[0]["id"]
    moment = now.replace(microsecond=0)
    events_store.insert_events([Event(uuid.uuid4(), back, org["id"], "web", "report.viewed", moment, moment, {},
                                      "api")])
    with AlertService(factory, events_store, SqlAccountDirectory(factory), AlertSettings(),
                      transport=httpx.MockTransport(receivers)) as service:
        service.run_once(now + timedelta(seconds=1))
    again = [d for d in admin.ok("GET", "/alerts/deliveries", params={"limit": 200})["items"]
             if d["rule_id"] == created["id"] and d["type"] == "account.reactivated"]
    assert {d["account"] for d in again} == {back} and len(again) == 4
    admin.ok("DELETE", f"/alerts/rules/{created['id']}", 204)
    orphaned = [d for d in admin.ok("GET", "/alerts/deliveries", params={"limit": 200})["items"]
                if d["id"] in {x["id"] for x in deliveries}]
    assert len(orphaned) == 8 and all(d["rule_id"] is None for d in orphaned)
