"""`organization.declining` and `account.going_quiet` rules: each transition once, across restarts and
concurrent runners, with signed webhooks; on the real alert tables (SQLite and PostgreSQL) and chDB."""

from __future__ import annotations

from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from analytics.alerts import (
    AlertConfigError,
    AlertService,
    AlertSettings,
    create_rule,
    create_webhook_endpoint,
    signals,
    update_rule,
)
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver, account

LOOPBACK = AlertSettings(allow_private_addresses=True)  # the test receiver listens on loopback


def _rule(database: AlertDatabase, receiver: Receiver, kind: str, organization: str | None = None,
          days: int = 14) -> tuple[int, str]:
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        rule = create_rule(session, kind, days, organization, webhook_ids=[endpoint.id], kind=kind)
        session.commit()
        return rule.id, endpoint.secret


def test_an_organization_declining_and_recovering_is_told_once_each(database: AlertDatabase,
                                                                   receiver: Receiver) -> None:
    directory = InMemoryDirectory([account(f"m{i}", 100, ("org-a",)) for i in range(4)]
                                  + [account("other", 100, ("org-b",))])
    rule_id, secret = _rule(database, receiver, "organization.declining")
    # Everyone was active in the four weeks before; nobody in org-a this week, "other" today.
    activity = FakeActivity({"m0": TODAY - timedelta(days=8), "m1": TODAY - timedelta(days=12),
                             "m2": TODAY - timedelta(days=20), "m3": TODAY - timedelta(days=27), "other": TODAY})
    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as service:
        first = service.run_once(NOW)
        assert [(t.account, t.type) for t in first.transitions] == [("org-a", "organization.declining")]
        assert service.run_once(NOW).transitions == []
    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as restarted:
        assert restarted.run_once(NOW + timedelta(minutes=1)).transitions == []
        activity.last.update({"m0": TODAY, "m1": TODAY, "m2": TODAY})
        back = restarted.run_once(NOW + timedelta(minutes=2))
        assert [(t.account, t.type) for t in back.transitions] == [("org-a", "organization.recovered")]
        assert restarted.run_once(NOW + timedelta(minutes=3)).transitions == []
    declining = Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert declining["type"] == "organization.declining" and declining["data"]["rule_id"] == rule_id
    assert declining["data"]["active_this_week"] == 0 and declining["data"]["trailing_share"] == 0.25
    assert declining["data"]["explanation"] == ("0 of 4 members active this week (0 %) against 25 % in the four "
                                                "weeks before")
    assert [r.json["type"] for r in receiver.received] == ["organization.declining", "organization.recovered"]


def test_a_rule_of_one_organization_watches_that_one(database: AlertDatabase, receiver: Receiver) -> None:
    directory = InMemoryDirectory([account("a1", 100, ("org-a",)), account("b1", 100, ("org-b",))])
    _rule(database, receiver, "organization.declining", organization="org-b")
    activity = FakeActivity({"a1": TODAY - timedelta(days=9), "b1": TODAY - timedelta(days=9)})
    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as service:
        assert [t.account for t in service.run_once(NOW).transitions] == ["org-b"]


def test_going_quiet_without_a_rhythm_falls_back_to_the_threshold_and_once(database: AlertDatabase,
                                                                         receiver: Receiver) -> None:
    # One active day each is no rhythm: the rule's threshold (7 days) applies.
    directory = InMemoryDirectory([account("alice", 100), account("bob", 100), account("gone", 100)])
    _rule(database, receiver, "account.going_quiet", days=7)
    activity = FakeActivity({"alice": TODAY - timedelta(days=8), "bob": TODAY - timedelta(days=2),
                             "gone": TODAY - timedelta(days=400)})
    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as one, \
            AlertService(database.session_factory(), activity, directory, LOOPBACK) as two:
        found = one.run_once(NOW).transitions + two.run_once(NOW).transitions
        assert [(t.account, t.type) for t in found] == [("alice", "account.going_quiet")]
        activity.last["alice"] = TODAY
        back = two.run_once(NOW + timedelta(hours=1)).transitions + one.run_once(NOW + timedelta(hours=1)).transitions
        assert [(t.account, t.type) for t in back] == [("alice", "account.reactivated")]
    data = receiver.received[0].json["data"]
    assert data["rule_kind"] == "account.going_quiet" and data["state"] == "active"
    assert data["explanation"] == "no rhythm yet (1 active day in the last 120 days); silent for 8 days"


@pytest.mark.parametrize("many", [1, 5000], ids=["all-states-read", "states-read-by-key"])
def test_accounts_back_after_going_quiet_are_reactivated_once(database: AlertDatabase, receiver: Receiver,
                                                               many: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "MANY_STATES", many)
    names = ["ann", "ben", "cat", "dan"]
    directory = InMemoryDirectory([account(name, 100) for name in names])
    _rule(database, receiver, "account.going_quiet", days=7)
    activity = FakeActivity({name: TODAY - timedelta(days=8) for name in names})
    with AlertService(database.session_factory(), activity, directory, LOOPBACK) as service:
        assert sorted(t.account for t in service.run_once(NOW).transitions) == names
        activity.last.update(ann=TODAY, cat=TODAY - timedelta(days=1))  # cat: active before the notification
        back = service.run_once(NOW + timedelta(days=1)).transitions
        assert [(t.account, t.type) for t in back] == [("ann", "account.reactivated")]
        assert service.run_once(NOW + timedelta(days=1, hours=1)).transitions == []


def test_an_unknown_kind_is_refused(database: AlertDatabase, receiver: Receiver) -> None:
    rule_id, _ = _rule(database, receiver, "account.going_quiet")
    with database.session_factory()() as session:
        with pytest.raises(AlertConfigError) as error:
            create_rule(session, "x", 7, emails=["a@example.com"], kind="account.sleeping")
        assert error.value.field == "kind"
        assert update_rule(session, rule_id, {"kind": "account.inactive"}).kind == "account.inactive"


def test_rules_of_one_scope_each_notify_from_one_scoring(database: AlertDatabase, receiver: Receiver) -> None:
    directory = InMemoryDirectory([account("alice", 100), account("erin", 100, ("org-b",))])
    first, _ = _rule(database, receiver, "account.going_quiet", days=7)
    second, _ = _rule(database, receiver, "account.going_quiet", days=7)
    of_b, _ = _rule(database, receiver, "account.going_quiet", organization="org-b", days=7)
    activity = FakeActivity({"alice": TODAY - timedelta(days=8), "erin": TODAY - timedelta(days=9)})
    with AlertService(database.session_factory(), activity, directory) as service:
        found = sorted((t.rule_id, t.account) for t in service.run_once(NOW).transitions)
    assert found == sorted([(first, "alice"), (first, "erin"), (second, "alice"), (second, "erin"), (of_b, "erin")])
