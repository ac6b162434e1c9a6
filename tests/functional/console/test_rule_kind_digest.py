"""The console's rule form chooses what a rule reports (fixed inactivity, going quiet by the account's rhythm,
declining organizations) and how its e-mail goes (at once, or a daily or weekly digest)."""

from __future__ import annotations

import secrets

from analytics.alerts import AlertRule
from tests.functional.conftest import Provider
from tests.support.console import Console, errors


def _rule(provider: Provider, name: str) -> AlertRule:
    with provider.context.factory() as db:
        found = list(db.query(AlertRule).filter(AlertRule.name == name))
        assert len(found) == 1
        return found[0]


def test_a_going_quiet_rule_with_a_weekly_digest_is_created_and_edited(provider: Provider,
                                                                       console: Console) -> None:
    form = console.get("/console/alerts").text
    assert '<option value="account.going_quiet">accounts going quiet by their own rhythm (adaptive)</option>' in form
    assert '<option value="weekly">a weekly digest of who went quiet since the last one</option>' in form
    name = f"rhythm {secrets.token_hex(4)}"
    created = console.post("/console/alerts", {"name": name, "threshold_days": "14", "kind": "account.going_quiet",
                                               "digest": "weekly", "emails": "ops@example.com", "enabled": "on"})
    assert created.headers["location"] == "/console/alerts?done=rule-created"
    rule = _rule(provider, name)
    assert (rule.kind, rule.digest) == ("account.going_quiet", "weekly") and rule.digest_sent_at is not None
    listing = console.get("/console/alerts").text
    assert "<td>account.going_quiet</td>" in listing and "ops@example.com (e-mail: weekly digest)" in listing

    page = console.get(f"/console/alerts/{rule.id}").text
    assert '<option value="account.going_quiet" selected>' in page and '<option value="weekly" selected>' in page
    daily = console.post(f"/console/alerts/{rule.id}", {"name": name, "threshold_days": "14", "digest": "daily",
                                                        "kind": "organization.declining",
                                                        "emails": "ops@example.com", "enabled": "on"})
    assert daily.headers["location"] == "/console/alerts?done=rule-updated"
    assert (_rule(provider, name).kind, _rule(provider, name).digest) == ("organization.declining", "daily")
    at_once = console.post(f"/console/alerts/{rule.id}", {"name": name, "threshold_days": "14", "digest": "",
                                                          "emails": "ops@example.com", "enabled": "on"})
    assert at_once.status_code == 303
    # No kind posted: the rule keeps it; an empty digest is e-mail at once.
    assert (_rule(provider, name).kind, _rule(provider, name).digest) == ("organization.declining", None)
    assert '<option value="" selected>each notification at once</option>' in console.get(
        f"/console/alerts/{rule.id}").text


def test_a_rule_without_the_new_fields_is_a_fixed_one_with_mail_at_once(provider: Provider,
                                                                         console: Console) -> None:
    name = f"plain {secrets.token_hex(4)}"
    console.post("/console/alerts", {"name": name, "threshold_days": "7", "emails": "a@example.com"})
    assert (_rule(provider, name).kind, _rule(provider, name).digest) == ("account.inactive", None)


def test_unknown_kinds_and_periods_are_refused_with_the_posted_values_kept(provider: Provider,
                                                                           console: Console) -> None:
    name = f"bad {secrets.token_hex(4)}"
    base = {"name": name, "threshold_days": "7", "emails": "a@example.com"}
    kind = console.post("/console/alerts", {**base, "kind": "account.sleepy"})
    assert kind.status_code == 400 and errors(kind)[0].startswith("kind must be one of account.inactive")
    period = console.post("/console/alerts", {**base, "kind": "account.going_quiet", "digest": "hourly"})
    assert period.status_code == 400
    assert errors(period) == ["digest must be null (immediate), daily or weekly; got 'hourly'"]
    assert '<option value="account.going_quiet" selected>' in period.text  # the form keeps what was posted
    with provider.context.factory() as db:
        assert db.query(AlertRule).filter(AlertRule.name == name).count() == 0
