"""Every query against an independent Python computation over the same simulated events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from analytics import provider_events, queries
from analytics.alerts import create_rule, metadata, run_detection
from analytics.directory import AccountRef, InMemoryDirectory
from analytics.queries import QueryError
from tests.analytics_queries import reference
from tests.analytics_queries.conftest import Loaded

ORGS = [None, "org-acme", "org-globex", "org-initech"]


@pytest.mark.parametrize("organization", ORGS)
def test_active_users(loaded: Loaded, organization: str | None) -> None:
    sim = loaded.sim
    start, end = sim.today - timedelta(days=100), sim.today + timedelta(days=1)
    result = queries.active_users(loaded.engine, sim.directory, start, end, organization)
    expected = reference.active_users(sim, start, end, organization)
    assert [(d.dau, d.wau, d.mau) for d in result.days] == expected
    assert [d.day for d in result.days] == [start + timedelta(days=i) for i in range(101)]
    last = result.days[-1]
    assert last.stickiness == (last.dau / last.mau if last.mau else 0.0)
    assert any(d.dau for d in result.days)


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
@pytest.mark.parametrize("organization", [None, "org-globex"])
def test_lifecycle(loaded: Loaded, granularity: queries.Granularity, organization: str | None) -> None:
    sim = loaded.sim
    start, end = sim.today - timedelta(days=90), sim.today - timedelta(days=3)
    result = queries.lifecycle(loaded.engine, sim.directory, start, end, granularity, organization)
    got = [(p.period_start, p.new, p.returning, p.resurrecting, p.dormant) for p in result.periods]
    assert got == reference.lifecycle(sim, start, end, granularity, organization)
    assert all(p.dormant <= 0 for p in result.periods)
    assert sum(p.resurrecting for p in result.periods) > 0


@pytest.mark.parametrize("days", [1, 14, 45])
@pytest.mark.parametrize("organization", [None, "org-acme"])
def test_inactive_accounts(loaded: Loaded, days: int, organization: str | None) -> None:
    sim = loaded.sim
    found = queries.inactive_accounts(loaded.engine, sim.directory, days, sim.now, organization)
    assert {a.sub: (a.last_seen, a.inactive_days) for a in found} == reference.inactive(sim, days, organization)
    assert any(a.last_seen is None for a in found)
    assert [a.inactive_days for a in found] == sorted((a.inactive_days for a in found), reverse=True)


class CountingDirectory(InMemoryDirectory):
    """Counts the accounts whose details are read."""

    looked_up: int = 0

    def lookup(self, subs: Sequence[str]) -> dict[str, AccountRef]:
        self.looked_up += len(subs)
        return super().lookup(subs)


def test_inactive_accounts_read_details_page_by_page(loaded: Loaded) -> None:
    sim = loaded.sim
    directory = CountingDirectory(sim.directory.refs, sim.directory.extra_organizations)
    found = queries.inactive_accounts(loaded.engine, directory, 14, sim.now)
    everything = list(queries.inactive_accounts(loaded.engine, sim.directory, 14, sim.now))
    never_active = sum(1 for a in everything if a.last_seen is None)
    assert len(found) == len(everything) > 20
    assert directory.looked_up == never_active  # their creation day orders them
    before = directory.looked_up
    pages = [found[offset:offset + 7] for offset in range(0, len(found), 7)]
    assert [a for page in pages for a in page] == everything
    assert directory.looked_up - before == len(found) - never_active  # each page reads its own details
    assert found[3] == everything[3] and found[-1] == everything[-1]
    subs = found.subs()
    assert subs == [a.sub for a in everything]
    assert found.select([subs[5], "nobody", subs[1]]) == [everything[5], everything[1]]


@pytest.mark.parametrize("organization", ["org-acme", "org-globex", "org-initech"])
def test_organization_health(loaded: Loaded, organization: str) -> None:
    sim = loaded.sim
    health = queries.organization_health(loaded.engine, sim.directory, organization, sim.now)
    members, active_7d, active_30d, inactive, previous = reference.health(sim, organization)
    assert (health.members, health.active_7d, health.active_30d, health.inactive, health.previous_active_30d) == (
        members,
        active_7d,
        active_30d,
        inactive,
        previous,
    )
    assert health.trend == active_30d - previous


@pytest.mark.parametrize("organization", [None, "org-initech"])
def test_top_events(loaded: Loaded, organization: str | None) -> None:
    sim = loaded.sim
    start, end = sim.today - timedelta(days=60), sim.today + timedelta(days=1)
    result = queries.top_events(loaded.engine, sim.directory, start, end, organization)
    total, expected = reference.top_events(sim, start, end, organization)
    assert result.accounts == total
    assert {u.name: (u.events, u.accounts) for u in result.events} == expected
    assert [u.events for u in result.events] == sorted((u.events for u in result.events), reverse=True)
    assert all(u.adoption == u.accounts / total for u in result.events)


def test_account_summary(loaded: Loaded) -> None:
    sim = loaded.sim
    for ref in sim.directory.accounts()[:40]:
        summary = queries.account_summary(loaded.engine, sim.directory, ref.sub, sim.now)
        mine = [e for e in sim.events if e.account == ref.sub]
        activity = [e.timestamp for e in mine if e.is_activity]
        assert summary.first_seen == (min(activity) if activity else None)
        assert summary.last_seen == (max(activity) if activity else None)
        signins = [e.timestamp for e in mine if e.name == provider_events.SIGNIN_SUCCEEDED]
        assert summary.last_signin == (max(signins) if signins else None)
        api = [e.timestamp for e in mine if e.source == "api"]
        assert summary.last_event == (max(api) if api else None)
        names: dict[str, int] = {}
        for event in mine:
            names[event.name] = names.get(event.name, 0) + 1
        assert summary.events_by_name == dict(sorted(names.items()))
        assert summary.clients == sorted({e.client_id for e in mine})
        days = {d for d in reference.active_days(sim, {ref.sub}).get(ref.sub, set())}
        assert summary.active_days_7d == sum(1 for d in days if sim.today - d < timedelta(days=7))
        assert summary.active_days_30d == sum(1 for d in days if sim.today - d < timedelta(days=30))


def test_account_timeline_pages_newest_first_without_duplicates(loaded: Loaded) -> None:
    sim = loaded.sim
    sub = max(sim.directory.accounts(), key=lambda r: sum(e.account == r.sub for e in sim.events)).sub
    expected = sorted(
        (e for e in sim.events if e.account == sub), key=lambda e: (e.timestamp, str(e.event_id)), reverse=True
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = queries.account_timeline(loaded.engine, sim.directory, sub, cursor=cursor, limit=17)
        seen.extend(e.event_id for e in page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [str(e.event_id) for e in expected]
    first = queries.account_timeline(loaded.engine, sim.directory, sub, limit=1).events[0]
    assert first.properties == {"n": pytest.approx(first.properties["n"])}
    assert first.name == expected[0].name


def test_tenant_isolation(loaded: Loaded) -> None:
    sim = loaded.sim
    acme = {r.sub for r in sim.directory.accounts("org-acme")}
    only_globex = next(r for r in sim.directory.accounts("org-globex") if "org-acme" not in r.organizations)
    found = queries.inactive_accounts(loaded.engine, sim.directory, 1, sim.now, "org-acme")
    assert {a.sub for a in found} <= acme
    with pytest.raises(QueryError) as error:
        queries.account_summary(loaded.engine, sim.directory, only_globex.sub, sim.now, organization="org-acme")
    assert error.value.field == "sub"
    with pytest.raises(QueryError):
        queries.account_timeline(loaded.engine, sim.directory, only_globex.sub, organization="org-acme")
    start, end = sim.today - timedelta(days=30), sim.today
    acme_series = queries.active_users(loaded.engine, sim.directory, start, end, "org-acme").days
    assert max(d.mau for d in acme_series) <= len(acme)
    empty = queries.active_users(loaded.engine, sim.directory, start, end, "org-empty").days
    assert all((d.dau, d.wau, d.mau) == (0, 0, 0) for d in empty)
    top = queries.top_events(loaded.engine, sim.directory, start, end, "org-acme")
    acme_events = {e.account for e in sim.events if e.organization == "org-acme"}
    assert top.accounts <= len(acme_events)


def test_invalid_inputs(loaded: Loaded) -> None:
    sim = loaded.sim
    engine, directory, today = loaded.engine, sim.directory, sim.today
    cases = [
        (lambda: queries.active_users(engine, directory, today, today - timedelta(days=1)), "start"),
        (lambda: queries.active_users(engine, directory, today - timedelta(days=401), today), "end"),
        (lambda: queries.active_users(engine, directory, today, today, "org-nope"), "organization"),
        (lambda: queries.inactive_accounts(engine, directory, -1, sim.now), "days"),
        (lambda: queries.lifecycle(engine, directory, today, today, "year"), "granularity"),  # type: ignore[arg-type]
        (lambda: queries.account_timeline(engine, directory, "acct-0001", cursor="%%%"), "cursor"),
        (lambda: queries.account_timeline(engine, directory, "acct-0001", limit=0), "limit"),
        (lambda: queries.organization_health(engine, directory, "org-nope", sim.now), "organization"),
        (lambda: queries.top_events(engine, directory, today, today, limit=-5), "limit"),
    ]
    for call, field in cases:
        with pytest.raises(QueryError) as error:
            call()
        assert error.value.field == field
    assert queries.active_users(engine, directory, today, today).days == []


def test_membership_filters_split_into_chunks_add_up(loaded: Loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = loaded.sim
    start, end = sim.today - timedelta(days=40), sim.today
    whole = queries.active_users(loaded.engine, sim.directory, start, end, "org-acme")
    whole_lifecycle = queries.lifecycle(loaded.engine, sim.directory, start, end, "week", "org-acme")
    monkeypatch.setattr("analytics.queries.sql.CHUNK_BYTES", 100)
    assert queries.active_users(loaded.engine, sim.directory, start, end, "org-acme") == whole
    assert queries.lifecycle(loaded.engine, sim.directory, start, end, "week", "org-acme") == whole_lifecycle


def test_detection_over_clickhouse(loaded: Loaded, tmp_path: Path) -> None:
    sim = loaded.sim
    engine = create_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    metadata.create_all(engine)
    factory = sessionmaker(engine)
    with factory() as session:
        create_rule(session, "quiet", 14, "org-acme", emails=["owner@example.com"])
        session.commit()
    transitions = run_detection(factory, loaded.engine, sim.directory, sim.now)
    assert {t.account for t in transitions} == set(reference.inactive(sim, 14, "org-acme"))
    assert all(t.type == "account.inactive" and t.deliveries == 1 for t in transitions)
    assert run_detection(factory, loaded.engine, sim.directory, sim.now) == []
    engine.dispose()


def test_stored_properties_too_deep_to_decode_come_back_as_text() -> None:
    from analytics.queries.accounts import _properties

    deep = "[" * 5000 + "]" * 5000
    assert _properties(deep) == deep
    assert _properties('{"a": [1]}') == {"a": [1]}
    assert _properties("not json") == "not json"
