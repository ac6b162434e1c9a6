"""An alert rule with e-mail recipients while SMTP is not configured: the admin API says so when the rule is
created or changed (the shared provider has no CANARY_SMTP_HOST)."""

from __future__ import annotations

from idp.alerting import rule_warnings
from idp.settings import Settings
from tests.functional.admin.conftest import Admin, unique


def test_a_rule_with_e_mail_recipients_and_no_smtp_carries_a_warning(admin: Admin) -> None:
    created = admin.ok("POST", "/alerts/rules", 201, json={"name": f"r-{unique()}", "threshold_days": 7,
                                                            "emails": ["ops@example.com"]})
    assert len(created["warnings"]) == 1 and "SMTP is not configured" in created["warnings"][0]
    patched = admin.ok("PATCH", f"/alerts/rules/{created['id']}", json={"threshold_days": 8})
    assert "SMTP is not configured" in patched["warnings"][0]
    assert admin.ok("GET", f"/alerts/rules/{created['id']}")["warnings"] == patched["warnings"]
    cleared = admin.ok("PATCH", f"/alerts/rules/{created['id']}", json={"emails": [], "webhook_ids": [
        admin.ok("POST", "/alerts/webhooks", 201, json={"url": "https://hooks.example.com/x"})["id"]]})
    assert cleared["warnings"] == []
    assert admin.ok("GET", f"/alerts/rules/{created['id']}")["warnings"] == []


def test_no_warning_once_smtp_is_configured() -> None:
    assert rule_warnings(Settings(smtp_host="smtp.example.com"), ["ops@example.com"]) == []
    assert rule_warnings(Settings(), []) == []
