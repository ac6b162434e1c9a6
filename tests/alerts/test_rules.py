"""The rules service: the one place a rule is checked, created, changed and deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from analytics.alerts import (
    MAX_THRESHOLD_DAYS,
    AccountAlertState,
    AlertConfigError,
    AlertRule,
    EndpointInUse,
    UnknownEndpoint,
    UnknownRule,
    create_rule,
    create_webhook_endpoint,
    delete_rule,
    delete_webhook_endpoint,
    get_rule,
    rule_dict,
    rules_page,
    update_rule,
    update_webhook_endpoint,
)
from tests.alerts.conftest import AlertDatabase

ORGANIZATIONS = {"acme": "org-1", "org-1": "org-1"}


def test_endpoint_validation(sqlite_database: AlertDatabase) -> None:
    with sqlite_database.session_factory()() as session:
        for url in ("ftp://example.com/x", "http://exa mple.com/", "http://[::1", "", "https:///path",
                    "http://x.example/" + "a" * 2000):
            with pytest.raises(AlertConfigError) as error:
                create_webhook_endpoint(session, url)
            assert error.value.field == "url"
        with pytest.raises(AlertConfigError) as error:
            create_webhook_endpoint(session, "https://example.com/x", secret="plain")
        assert error.value.field == "secret"
        endpoint = create_webhook_endpoint(session, "https://example.com/x")
        assert endpoint.secret.startswith("whsec_")
        with pytest.raises(AlertConfigError) as error:
            update_webhook_endpoint(session, endpoint.id, {"description": "d" * 501})
        assert error.value.field == "description"
        with pytest.raises(UnknownEndpoint):
            update_webhook_endpoint(session, endpoint.id + 1, {"description": "d"})
        rule = create_rule(session, "uses it", 7, webhook_ids=[endpoint.id])
        with pytest.raises(EndpointInUse) as in_use:
            delete_webhook_endpoint(session, endpoint.id)
        assert in_use.value.rule_ids == [rule.id]


@pytest.mark.parametrize(("arguments", "field"), [
    ({"threshold_days": 0}, "threshold_days"),
    ({"threshold_days": -3}, "threshold_days"),
    ({"threshold_days": MAX_THRESHOLD_DAYS + 1}, "threshold_days"),
    ({"threshold_days": 1_000_000}, "threshold_days"),
    ({"threshold_days": True}, "threshold_days"),
    ({"threshold_days": 7.5}, "threshold_days"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"webhook_ids": [], "emails": []}, "webhook_ids"),
    ({"webhook_ids": [999]}, "webhook_ids[0]"),
    ({"webhook_ids": [0]}, "webhook_ids[0]"),
    ({"webhook_ids": ["1"]}, "webhook_ids[0]"),
    ({"webhook_ids": list(range(1, 52))}, "webhook_ids"),
    ({"emails": ["not-an-address"]}, "emails[0]"),
    ({"emails": ["a@example.com", "a b@example.com"]}, "emails[1]"),
    ({"emails": ["a@example.com,b@example.com"]}, "emails[0]"),
    ({"emails": ["a@example.com\r\nBcc: x@example.com"]}, "emails[0]"),
    ({"emails": ["<a@example.com>"]}, "emails[0]"),
    ({"emails": ['quote"@example.com']}, "emails[0]"),
    ({"emails": ["a@example.com", "A@Example.com"]}, "emails"),
    ({"emails": [f"r{i}@example.com" for i in range(51)]}, "emails"),
    ({"organization": "nowhere"}, "organization"),
    ({"organization": ""}, "organization"),
    ({"enabled": "yes"}, "enabled"),
])
def test_create_refuses_naming_the_field(sqlite_database: AlertDatabase, arguments: dict[str, Any], field: str) -> None:
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, "https://example.com/x")
        values: dict[str, Any] = {"name": "quiet", "threshold_days": 7, "webhook_ids": [endpoint.id], **arguments}
        with pytest.raises(AlertConfigError) as error:
            create_rule(session, **values, organizations=ORGANIZATIONS.get)
        assert error.value.field == field
        assert session.scalars(select(AlertRule)).all() == []
        if field == "threshold_days":
            assert f"from 1 to {MAX_THRESHOLD_DAYS}" in str(error.value)


def test_create_get_list_update_delete(sqlite_database: AlertDatabase) -> None:
    moment = datetime(2024, 6, 1, 12, tzinfo=UTC)
    with sqlite_database.session_factory()() as session:
        first = create_webhook_endpoint(session, "https://example.com/1")
        second = create_webhook_endpoint(session, "https://example.com/2")
        rule = create_rule(session, "  Quiet customers ", MAX_THRESHOLD_DAYS, "acme", [first.id, second.id],
                           ["Ops@Example.com"], organizations=ORGANIZATIONS.get, clock=lambda: moment)
        shown = rule_dict(rule)
        assert shown == {
            "id": rule.id, "name": "Quiet customers", "kind": "account.inactive", "threshold_days": MAX_THRESHOLD_DAYS,
            "organization_id": "org-1", "webhook_ids": [first.id, second.id], "emails": ["ops@example.com"],
            "enabled": True, "digest": None, "created_at": "2024-06-01T12:00:00+00:00",
        }
        other = create_rule(session, "n" * 200, 1, emails=["a@example.com"], enabled=False)
        assert rule_dict(get_rule(session, rule.id)) == shown
        rows, total = rules_page(session, 1, 10)
        assert total == 2 and [r.id for r in rows] == [other.id]

        session.add(AccountAlertState(rule_id=rule.id, account="acct-x", state="inactive", changed_at=moment))
        session.flush()
        # A refused field changes nothing, not even the fields given beside it.
        with pytest.raises(AlertConfigError):
            update_rule(session, rule.id, {"name": "renamed", "threshold_days": 0})
        assert rule_dict(get_rule(session, rule.id)) == shown
        changed = update_rule(session, rule.id, {"name": "renamed", "enabled": False, "webhook_ids": [second.id]})
        assert (changed.name, changed.enabled, rule_dict(changed)["webhook_ids"]) == ("renamed", False, [second.id])
        assert rule_dict(changed)["emails"] == ["ops@example.com"]
        with pytest.raises(AlertConfigError) as error:
            update_rule(session, rule.id, {"webhook_ids": [], "emails": []})
        assert error.value.field == "webhook_ids"
        assert session.scalars(select(AccountAlertState.account)).all() == ["acct-x"]
        update_rule(session, rule.id, {"threshold_days": 30, "organization": "org-1"},
                    organizations=ORGANIZATIONS.get)
        assert session.scalars(select(AccountAlertState.account)).all() == []  # new terms: started afresh

        # A disabled endpoint stays on the rule that has it, but is not added to another one.
        first.disabled_at, first.disabled_reason = moment, "the endpoint answered 410 Gone"
        second.disabled_at, second.disabled_reason = moment, "the endpoint answered 410 Gone"
        session.flush()
        assert rule_dict(update_rule(session, rule.id, {"webhook_ids": [second.id]}))["webhook_ids"] == [second.id]
        with pytest.raises(AlertConfigError) as error:
            update_rule(session, rule.id, {"webhook_ids": [second.id, first.id]})
        assert error.value.field == "webhook_ids[1]" and "410 Gone" in error.value.message
        with pytest.raises(AlertConfigError) as error:
            create_rule(session, "to a disabled one", 7, webhook_ids=[second.id])
        assert error.value.field == "webhook_ids[0]" and "enable it first" in error.value.message

        delete_rule(session, rule.id)
        for call in (lambda: get_rule(session, rule.id), lambda: delete_rule(session, rule.id),
                     lambda: update_rule(session, rule.id, {"name": "x"})):
            with pytest.raises(UnknownRule):
                call()
