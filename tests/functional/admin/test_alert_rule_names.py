"""Rule names and e-mail recipients are held to the same bounds by the admin API, the CLI and the service:
lengths count surrounding spaces, and a name may hold no control characters (it heads e-mail subjects)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics.alerts import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, AlertConfigError, create_rule
from tests.functional.admin.conftest import Admin, Spec, unique, validation_agreement
from tests.functional.conftest import Provider
from tests.support.cli import canary

CONTROLS = ["quiet\nBcc: x@example.com", "quiet\r\nrule", "tab\there", "bell\x07", "nul\x00 x", "del\x7f", "c1\x85x"]


@pytest.mark.parametrize("name", CONTROLS)
def test_a_name_with_control_characters_is_refused_by_the_api(admin: Admin, name: str) -> None:
    body = admin.error("POST", "/alerts/rules", 400, "invalid_request", "name",
                       json={"name": name, "threshold_days": 7, "emails": ["owner@example.com"]})
    assert "control characters" in body["error_description"] or "NUL" in body["error_description"]
    created = admin.ok("POST", "/alerts/rules", 201, json={"name": f"r {unique()}", "threshold_days": 7,
                                                           "emails": ["owner@example.com"]})
    admin.error("PATCH", f"/alerts/rules/{created['id']}", 400, "invalid_request", "name", json={"name": name})
    assert admin.ok("GET", f"/alerts/rules/{created['id']}")["name"] == created["name"]


def test_surrounding_line_breaks_are_trimmed_like_spaces(admin: Admin) -> None:
    created = admin.ok("POST", "/alerts/rules", 201, json={"name": "\n quiet \t", "threshold_days": 7,
                                                           "emails": ["owner@example.com"]})
    assert created["name"] == "quiet"


def test_the_cli_refuses_a_name_with_a_line_break(tmp_path: Path) -> None:
    assert canary(tmp_path, "migrate").returncode == 0
    refused = canary(tmp_path, "alerts", "rules", "create", "quiet\nBcc: x@example.com", "--days", "7", "--email",
                     "owner@example.com")
    assert refused.returncode != 0 and "control characters" in refused.stderr, refused
    long = " " + "x" * MAX_NAME_LENGTH
    refused = canary(tmp_path, "alerts", "rules", "create", long, "--days", "7", "--email", "owner@example.com")
    assert refused.returncode != 0 and f"at most {MAX_NAME_LENGTH} characters" in refused.stderr, refused
    created = json.loads(canary(tmp_path, "alerts", "rules", "create", " " + "x" * (MAX_NAME_LENGTH - 1), "--days",
                                "7", "--email", "owner@example.com", "--json").stdout)
    assert created["name"] == "x" * (MAX_NAME_LENGTH - 1)


def _padded() -> list[tuple[str, Any]]:
    good: dict[str, Any] = {"name": "r", "threshold_days": 7, "emails": ["a@example.com"]}
    address = f"{'a' * 64}@{'.'.join(['b' * 63] * 3 + ['b' * 62])}"
    assert len(address) == MAX_EMAIL_LENGTH - 1
    return [("AlertRuleCreate", {**good, **change}) for change in [
        {"name": " " + "x" * MAX_NAME_LENGTH}, {"name": " " + "x" * (MAX_NAME_LENGTH - 1)},
        {"name": "x" * MAX_NAME_LENGTH + "  "}, {"emails": [" " + address]}, {"emails": ["  " + address]},
    ]]


def test_the_api_the_service_and_the_schema_agree_on_padded_lengths(admin: Admin, spec: Spec,
                                                                     provider: Provider) -> None:
    def accepted(name: str, body: Any) -> bool:
        with provider.context.factory() as db:
            try:
                create_rule(db, body["name"], body["threshold_days"], None, (), body["emails"])
            except AlertConfigError:
                return False
            finally:
                db.rollback()
        return True

    agreed = validation_agreement(spec, _padded(), service=accepted)
    assert agreed == {True: 2, False: 3}
    for _, body in _padded():
        response = admin.post("/alerts/rules", json=body)
        assert response.status_code == (201 if accepted("", body) else 400), (body, response.text[:300])
