"""Someone an organization invited who has not joined yet, in the organization's reports: counted from the
invitation in its inactive list, health and `account.inactive` alerts (activity before it is not the
organization's), and left out of its DAU/WAU/MAU, lifecycle, engagement and at-risk list, which count members.
Accounts-wide reports and the organizations they joined see all of their activity."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from analytics import migrations, queries
from analytics.alerts import create_rule, metadata, run_detection
from analytics.clickhouse import ClickHouse
from analytics.directory import AccountRef, InMemoryDirectory
from analytics.ingest.model import Event

TODAY = date(2024, 6, 1)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2023, 1, 1, tzinfo=UTC)


def _ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def _invited(days: int) -> tuple[tuple[str, datetime], ...]:
    return (("org-a", NOW - timedelta(days=days)),)


# sub: (organizations, invitations into org-a, days ago it was active)
PEOPLE: dict[str, tuple[tuple[str, ...], tuple[tuple[str, datetime], ...], list[int]]] = {
    "member": (("org-a",), (), [2]),
    # Invited 5 days ago; active in org-b, 60 days ago.
    "eve": (("org-a", "org-b"), _invited(5), [60]),
    # Invited 40 days ago, last active 60 days ago: inactive from the invitation.
    "stale": (("org-a",), _invited(40), [60]),
    # Invited 40 days ago, active 35 days ago (after it).
    "since": (("org-a",), _invited(40), [50, 35]),
    # Invited 45 days ago, active 50 days ago (before it).
    "before": (("org-a",), _invited(45), [50]),
    # Invited 20 days ago, active since.
    "fresh": (("org-a",), _invited(20), [25, 3]),
    # Invited 31 days ago, never active.
    "pending": (("org-a",), _invited(31), []),
    # Invited 2 days ago; a daily user of org-b who went quiet 6 days ago.
    "rhythm": (("org-a", "org-b"), _invited(2), list(range(60, 6, -1))),
}


def _world(engine: ClickHouse) -> InMemoryDirectory:
    migrations.migrate(engine)
    refs = [AccountRef(sub, f"{sub}@example.com", sub, LONG_AGO, orgs, invitations)
            for sub, (orgs, invitations, _) in PEOPLE.items()]
    events = []
    for sub, (_, _, days) in PEOPLE.items():
        for days_ago in days:
            moment = datetime.combine(_ago(days_ago), datetime.min.time(), UTC) + timedelta(hours=10)
            events.append(Event(uuid.uuid4(), sub, "", "api", "report.viewed", moment, moment, {}, "api"))
    engine.insert_events(events)
    return InMemoryDirectory(refs)


def test_an_invitee_is_inactive_from_the_invitation_in_the_organization_only(engine: ClickHouse) -> None:
    directory = _world(engine)
    found = queries.inactive_accounts(engine, directory, 14, NOW, "org-a")
    assert {a.sub: (a.last_seen, a.inactive_days) for a in found} == {
        "stale": (None, 40), "since": (_ago(35), 35), "before": (None, 45), "pending": (None, 31)}
    assert [a.sub for a in found] == ["before", "stale", "since", "pending"]
    # In the organization eve joined, and over every account, all of her activity counts.
    in_b = queries.inactive_accounts(engine, directory, 14, NOW, "org-b")
    assert {a.sub: (a.last_seen, a.inactive_days) for a in in_b} == {"eve": (_ago(60), 60)}
    everyone = {a.sub: (a.last_seen, a.inactive_days) for a in queries.inactive_accounts(engine, directory, 14, NOW)}
    assert everyone["eve"] == (_ago(60), 60) and everyone["stale"] == (_ago(60), 60)

    health = queries.organization_health(engine, directory, "org-a", NOW)
    assert (health.members, health.active_7d, health.active_30d, health.inactive, health.previous_active_30d) == (
        len(PEOPLE), 2, 2, 4, 1)


def test_an_invitee_is_not_in_the_organizations_active_users(engine: ClickHouse) -> None:
    directory = _world(engine)
    assert sorted(directory.members("org-a")) == ["member"]
    days = queries.active_users(engine, directory, _ago(60), TODAY + timedelta(days=1), "org-a").days
    assert (days[0].day, days[0].dau) == (_ago(60), 0)
    assert (days[-1].day, days[-1].wau, days[-1].mau) == (TODAY, 1, 1)
    assert queries.active_users(engine, directory, _ago(60), _ago(59), "org-b").days[0].dau == 2
    lifecycle = queries.lifecycle(engine, directory, _ago(3), _ago(1), "day", "org-a")
    assert [(p.period_start, p.new, p.returning, p.resurrecting, p.dormant) for p in lifecycle.periods] == [
        (_ago(3), 0, 0, 0, 0), (_ago(2), 1, 0, 0, 0)]
    engagement = queries.organization_engagement(engine, directory, "org-a", NOW)
    assert (engagement.members, engagement.active_this_week) == (1, 1)
    everyone = queries.engagement_by_organization(engine, directory, NOW)
    assert everyone["org-a"] == engagement and everyone["org-b"].members == 2
    at_risk = {a.sub for a in queries.at_risk_accounts(engine, directory, NOW)}
    assert "rhythm" in at_risk
    assert "rhythm" in {a.sub for a in queries.at_risk_accounts(engine, directory, NOW, organization="org-b")}
    assert "rhythm" not in {a.sub for a in queries.at_risk_accounts(engine, directory, NOW, organization="org-a")}


def test_an_inactive_rule_judges_an_invitee_from_the_invitation(engine: ClickHouse, tmp_path: Path) -> None:
    directory = _world(engine)
    database = create_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    metadata.create_all(database)
    factory = sessionmaker(database)
    with factory() as session:
        create_rule(session, "quiet", 14, "org-a", emails=["owner@example.com"])
        session.commit()
    first = run_detection(factory, engine, directory, NOW)
    assert sorted((t.account, t.type, t.inactive_days) for t in first) == [
        ("before", "account.inactive", 45), ("pending", "account.inactive", 31), ("since", "account.inactive", 35),
        ("stale", "account.inactive", 40)]
    # Still only invited, active again: reactivated in the organization's rule.
    moment = NOW - timedelta(hours=1)
    engine.insert_events([Event(uuid.uuid4(), "stale", "", "api", "report.viewed", moment, moment, {}, "api")])
    again = run_detection(factory, engine, directory, NOW)
    assert [(t.account, t.type) for t in again] == [("stale", "account.reactivated")]
    database.dispose()
