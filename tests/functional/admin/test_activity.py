"""Activity endpoints of the admin API over HTTP, against ClickHouse (the test server, and chDB).

Each world is a provider with analytics and an accounts database of its own (SQLite or PostgreSQL):
accounts in two organizations, events generated over 100 days and inserted through `analytics.accept`.
Every number is checked against a plain-Python computation over the same events
(`tests.analytics_queries.reference`, or computed here).
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics.api import Analytics, Event, provider_events
from analytics.directory import AccountRef, InMemoryDirectory
from idp.accounts.models import User
from idp.db import transaction
from tests.analytics_queries import reference
from tests.analytics_queries.factory import IDP_NAMES, SimEvent, Simulation
from tests.functional.admin.conftest import Admin, Spec, new_token
from tests.functional.conftest import Provider, free_port, start_provider
from tests.support.clickhouse import server_url_for
from tests.support.postgres import own_accounts_database

API_NAMES = ("report.viewed", "export.created", "invoice.sent", "search.run")
CLIENTS = ("web", "cli", "mobile")
HISTORY = 100


@dataclass(frozen=True)
class Plan:
    """One account of the world: organizations ("a", "b"), age, and on which past days it was active."""

    key: str
    organizations: tuple[str, ...]
    created_days_ago: int
    rate: float
    active_from: int = HISTORY
    """Active on days `active_from` .. `active_until` ago (both included) with probability `rate`."""
    active_until: int = 0


PLANS = [
    Plan("a-daily", ("a",), 130, 0.85),
    Plan("a-weekly", ("a",), 125, 0.2),
    Plan("a-stopped", ("a",), 110, 0.7, active_until=40),
    Plan("a-quiet", ("a",), 105, 0.6, active_until=9),
    Plan("a-never-old", ("a",), 45, 0.0),
    Plan("a-never-new", ("a",), 0, 0.0),
    Plan("both", ("a", "b"), 120, 0.5),
    Plan("b-daily", ("b",), 120, 0.75),
    Plan("b-stopped", ("b",), 115, 0.8, active_from=90, active_until=16),
    Plan("b-new", ("b",), 20, 0.6, active_from=20),
    Plan("b-never-old", ("b",), 70, 0.0),
    Plan("b-returning", ("b",), 100, 0.9, active_from=70, active_until=50),
    Plan("loner", (), 100, 0.3),
]


@dataclass
class World:
    provider: Provider
    admin: Admin
    analytics: Analytics
    orgs: dict[str, dict[str, Any]]
    """"a" and "b": the organizations as the API returned them."""
    accounts: dict[str, str]
    """Plan key → account id."""
    refs: list[AccountRef]
    events: list[SimEvent]
    """Distinct events inserted (some were inserted twice)."""

    def sim(self) -> Simulation:
        now = datetime.now(UTC)
        return Simulation(now.date(), now, InMemoryDirectory(list(self.refs)), self.events, [])

    def org_id(self, key: str) -> str:
        return str(self.orgs[key]["id"])


@contextmanager
def own_database(database_url: str, tmp: Path) -> Iterator[str]:
    """An accounts database for this world alone, of the same kind as `database_url`."""
    with own_accounts_database(database_url, tmp, "canary_activity") as url:
        yield url


def generate(rng: random.Random, plans: dict[str, tuple[Plan, str, tuple[str, ...]]], now: datetime) -> list[SimEvent]:
    """Events of every planned account over the last HISTORY days, plus a deleted account's."""
    today = now.date()
    events: list[SimEvent] = []

    def add(account: str, organization: str, name: str, source: str, moment: datetime) -> None:
        events.append(SimEvent(uuid.UUID(int=rng.getrandbits(128)), account, organization, rng.choice(CLIENTS), name,
                               moment, moment, json.dumps({"n": rng.randint(0, 9)}), source))

    def moment_on(day: date) -> datetime:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        latest = min(86_399, int((now - start).total_seconds()))
        return start + timedelta(seconds=rng.randint(0, max(0, latest)))

    for plan, sub, organizations in plans.values():
        for ago in range(plan.active_from, plan.active_until - 1, -1):
            if rng.random() >= plan.rate:
                continue
            day = today - timedelta(days=ago)
            for _ in range(rng.randint(1, 4)):
                if rng.random() < 0.5:
                    add(sub, rng.choice((*organizations, "")), rng.choice(API_NAMES), "api", moment_on(day))
                else:
                    add(sub, "", rng.choice(IDP_NAMES), "idp", moment_on(day))
    for ago in range(0, 60, 3):  # an account deleted since: counted by event metrics, not by the directory
        add("deleted-account", "", rng.choice(API_NAMES), "api", moment_on(today - timedelta(days=ago)))
    return events


def to_event(event: SimEvent, received_later: bool = False) -> Event:
    received = event.received_at + timedelta(minutes=5) if received_later else event.received_at
    return Event(event.event_id, event.account, event.organization, event.client_id, event.name, event.timestamp,
                 received, json.loads(event.properties), event.source)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["server", "chdb"])
def world(request: pytest.FixtureRequest, database_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("activity")
    url = None
    if request.param == "server":
        request.getfixturevalue("clickhouse_server_url")
        url = server_url_for(f"canary_admin_{uuid.uuid4().hex[:10]}")
    with own_database(database_url, tmp) as accounts_url:
        analytics = Analytics.open(url=url, data_dir=tmp, flush_interval=0.2)
        analytics.migrate()
        provider, server = start_provider(tmp, accounts_url, analytics, alert_interval=3600)
        try:
            document = httpx.get(f"{provider.url}/admin/api/openapi.json").json()
            token = new_token(provider, admin=True, scope="admin")
            with httpx.Client(base_url=provider.url, timeout=60) as http:
                admin = Admin(provider, Spec(document), token, http)
                yield build(provider, admin, analytics)
        finally:
            server.stop()
            if url is not None:
                from analytics.clickhouse import ServerEngine

                dropper = ServerEngine(server_url_for("default"))
                dropper.execute(f"DROP DATABASE IF EXISTS `{url.rsplit('/', 1)[1]}`")
                dropper.close()


def build(provider: Provider, admin: Admin, analytics: Analytics) -> World:
    tag = secrets.token_hex(4)
    orgs = {key: admin.organization(slug=f"{key}-{tag}") for key in ("a", "b")}
    now = datetime.now(UTC).replace(microsecond=0)
    plans: dict[str, tuple[Plan, str, tuple[str, ...]]] = {}
    refs = []
    for plan in PLANS:
        account = admin.account(email=f"{plan.key}-{tag}@example.com", name=plan.key,
                                organizations=[{"organization": orgs[o]["slug"]} for o in plan.organizations])
        created = now - timedelta(days=plan.created_days_ago)
        with transaction(provider.context.factory) as db:
            user = db.get(User, account["id"])
            assert user is not None
            user.created_at = created
        org_ids = tuple(sorted(orgs[o]["id"] for o in plan.organizations))
        plans[plan.key] = (plan, account["id"], org_ids)
        refs.append(AccountRef(account["id"], account["email"], plan.key, created, org_ids))
    rng = random.Random(20240611)
    events = generate(rng, plans, now)
    rows = [to_event(e) for e in events] + [to_event(e, True) for e in rng.sample(events, len(events) // 20)]
    rng.shuffle(rows)
    for index in range(0, len(rows), 500):
        analytics.accept(rows[index:index + 500])
    analytics.flush(30)
    return World(provider, admin, analytics, orgs, {key: sub for key, (_, sub, _) in plans.items()}, refs, events)


def moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# --- one account -------------------------------------------------------------------------------------------
def expected_summary(world: World, sub: str, today: date) -> dict[str, Any]:
    mine = [e for e in world.events if e.account == sub]
    activity = [e for e in mine if e.is_activity]
    names: dict[str, int] = defaultdict(int)
    for event in mine:
        names[event.name] += 1
    days = {e.timestamp.date() for e in activity}
    signins = [e.timestamp for e in mine if e.name == provider_events.SIGNIN_SUCCEEDED]
    usage = [e.timestamp for e in mine if e.source == "api"]
    return {
        "first_seen": min((e.timestamp for e in activity), default=None),
        "last_seen": max((e.timestamp for e in activity), default=None),
        "last_sign_in": max(signins, default=None),
        "last_event": max(usage, default=None),
        "active_days_7d": sum(1 for d in days if today - timedelta(days=6) <= d <= today),
        "active_days_30d": sum(1 for d in days if today - timedelta(days=29) <= d <= today),
        "events_by_name": dict(names),
        "clients": sorted({e.client_id for e in mine if e.client_id}),
    }


def test_account_activity_matches_the_events(world: World) -> None:
    for key in ("a-daily", "a-stopped", "both", "b-new", "loner", "a-never-old"):
        sub = world.accounts[key]
        got = world.admin.ok("GET", f"/accounts/{sub}/activity")
        expected = expected_summary(world, sub, datetime.now(UTC).date())
        assert got["account_id"] == sub
        for field in ("first_seen", "last_seen", "last_sign_in", "last_event"):
            assert moment(got[field]) == expected[field], (key, field)
        for field in ("active_days_7d", "active_days_30d", "events_by_name", "clients"):
            assert got[field] == expected[field], (key, field)
        assert abs(moment(got["as_of"]) - datetime.now(UTC)) < timedelta(minutes=1)  # type: ignore[operator]
    never = world.admin.ok("GET", f"/accounts/{world.accounts['a-never-new']}/activity")
    assert never["first_seen"] is None and never["events_by_name"] == {} and never["active_days_30d"] == 0


def test_timeline_pages_newest_first_without_gaps_or_repeats(world: World) -> None:
    sub = world.accounts["a-daily"]
    expected = sorted((e for e in world.events if e.account == sub),
                      key=lambda e: (e.timestamp, str(e.event_id)), reverse=True)
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 37}
        if cursor:
            params["cursor"] = cursor
        page = world.admin.ok("GET", f"/accounts/{sub}/timeline", params=params)
        assert len(page["items"]) <= 37 and page["limit"] == 37
        seen.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages > 3
    assert [item["event_id"] for item in seen] == [str(e.event_id) for e in expected]
    first = seen[0]
    event = expected[0]
    assert moment(first["timestamp"]) == event.timestamp and first["name"] == event.name
    assert first["client_id"] == event.client_id and first["organization"] == event.organization
    assert first["source"] == event.source and first["properties"] == json.loads(event.properties)


def test_timeline_range_and_default_limit(world: World) -> None:
    sub = world.accounts["both"]
    today = datetime.now(UTC).date()
    start, end = today - timedelta(days=30), today - timedelta(days=10)
    page = world.admin.ok("GET", f"/accounts/{sub}/timeline",
                          params={"start": start.isoformat(), "end": end.isoformat(), "limit": 200})
    expected = sorted((str(e.event_id) for e in world.events
                       if e.account == sub and start <= e.timestamp.date() < end), reverse=False)
    assert sorted(item["event_id"] for item in page["items"]) == expected and page["next_cursor"] is None
    default = world.admin.ok("GET", f"/accounts/{sub}/timeline")
    assert default["limit"] == 50 and len(default["items"]) == 50 and default["next_cursor"]
    empty = world.admin.ok("GET", f"/accounts/{world.accounts['a-never-new']}/timeline")
    assert empty == {"items": [], "next_cursor": None, "limit": 50}


# --- active users and lifecycle ----------------------------------------------------------------------------
def check_series(got: dict[str, Any], expected: list[tuple[int, int, int]], start: date) -> None:
    assert [(d["dau"], d["wau"], d["mau"]) for d in got["days"]] == expected
    assert [d["day"] for d in got["days"]] == [(start + timedelta(days=i)).isoformat() for i in range(len(expected))]
    for day in got["days"]:
        assert day["stickiness"] == pytest.approx(day["dau"] / day["mau"] if day["mau"] else 0.0)


def test_active_users_over_ranges_and_organizations(world: World) -> None:
    sim = world.sim()
    today = sim.today
    default = world.admin.ok("GET", "/activity/active-users")
    start = today - timedelta(days=29)
    assert default["start"] == start.isoformat() and default["end"] == (today + timedelta(days=1)).isoformat()
    assert default["organization"] is None
    check_series(default, reference.active_users(sim, start, today + timedelta(days=1), None), start)
    assert max(d["mau"] for d in default["days"]) > 5
    start, end = today - timedelta(days=90), today - timedelta(days=20)
    for key in ("a", "b"):
        for value in (world.orgs[key]["slug"], world.orgs[key]["id"]):
            got = world.admin.ok("GET", "/activity/active-users",
                                 params={"start": start.isoformat(), "end": end.isoformat(), "organization": value})
            assert got["organization"] == world.org_id(key)
            check_series(got, reference.active_users(sim, start, end, world.org_id(key)), start)


def test_active_users_per_organization_count_only_its_members(world: World) -> None:
    sim = world.sim()
    start, end = sim.today - timedelta(days=60), sim.today + timedelta(days=1)
    params = {"start": start.isoformat(), "end": end.isoformat()}
    everyone = world.admin.ok("GET", "/activity/active-users", params=params)["days"]
    a = world.admin.ok("GET", "/activity/active-users", params={**params, "organization": world.orgs["a"]["slug"]})
    b = world.admin.ok("GET", "/activity/active-users", params={**params, "organization": world.orgs["b"]["slug"]})
    # "both" is in A and in B; "loner" and the deleted account only in the unfiltered numbers.
    members = {key: {ref.sub for ref in sim.directory.accounts(world.org_id(key))} for key in ("a", "b")}
    assert members["a"] & members["b"] == {world.accounts["both"]}
    for all_day, a_day, b_day in zip(everyone, a["days"], b["days"], strict=True):
        assert a_day["mau"] <= len(members["a"]) and b_day["mau"] <= len(members["b"])
        assert a_day["mau"] + b_day["mau"] <= all_day["mau"] + 1
    assert any(a_day["mau"] != b_day["mau"] for a_day, b_day in zip(a["days"], b["days"], strict=True))


@pytest.mark.parametrize("granularity,days", [("day", 45), ("week", 90), ("month", 100)])
def test_lifecycle_matches_the_reference(world: World, granularity: str, days: int) -> None:
    sim = world.sim()
    start, end = sim.today - timedelta(days=days), sim.today + timedelta(days=1)
    for org in (None, "a", "b"):
        params = {"start": start.isoformat(), "end": end.isoformat(), "granularity": granularity}
        if org is not None:
            params["organization"] = world.orgs[org]["slug"]
        got = world.admin.ok("GET", "/activity/lifecycle", params=params)
        assert got["granularity"] == granularity
        assert got["organization"] == (None if org is None else world.org_id(org))
        expected = reference.lifecycle(sim, start, end, granularity,  # type: ignore[arg-type]
                                       None if org is None else world.org_id(org))
        assert [(date.fromisoformat(p["period_start"]), p["new"], p["returning"], p["resurrecting"], p["dormant"])
                for p in got["periods"]] == expected
        assert sum(p["new"] + p["returning"] + p["resurrecting"] for p in got["periods"]) > 0


def test_lifecycle_defaults_to_days_of_the_last_30(world: World) -> None:
    got = world.admin.ok("GET", "/activity/lifecycle")
    assert got["granularity"] == "day" and len(got["periods"]) == 30
    assert got["periods"][-1]["period_start"] == datetime.now(UTC).date().isoformat()


# --- inactive accounts and organization health -------------------------------------------------------------
def all_pages(admin: Admin, path: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = admin.ok("GET", path, params={**params, "offset": offset, "limit": limit})
        assert page["offset"] == offset and page["limit"] == limit
        items.extend(page["items"])
        offset += limit
        if offset >= page["total"]:
            assert len(items) == page["total"]
            return items


@pytest.mark.parametrize("days", [1, 7, 30, 60])
def test_inactive_accounts_match_the_reference(world: World, days: int) -> None:
    sim = world.sim()
    for org in (None, "a", "b"):
        params: dict[str, Any] = {"days": days}
        if org is not None:
            params["organization"] = world.orgs[org]["id"]
        got = all_pages(world.admin, "/activity/inactive", params, 2)
        expected = reference.inactive(sim, days, None if org is None else world.org_id(org))
        assert [item["account_id"] for item in got] == sorted(expected, key=lambda s: (-expected[s][1], s))
        for item in got:
            last, idle = expected[item["account_id"]]
            assert item["inactive_days"] == idle
            assert item["last_seen"] == (None if last is None else last.isoformat())
            if org is not None:
                assert world.org_id(org) in {o["id"] for o in item["organizations"]}


def test_inactive_accounts_include_never_active_ones_by_age(world: World) -> None:
    got = {item["account_id"]: item for item in all_pages(
        world.admin, "/activity/inactive", {"days": 30, "organization": world.orgs["a"]["slug"]}, 200)}
    old, new = world.accounts["a-never-old"], world.accounts["a-never-new"]
    created = next(ref.created_at for ref in world.refs if ref.sub == old)
    assert got[old]["last_seen"] is None
    assert got[old]["inactive_days"] == (datetime.now(UTC).date() - created.date()).days
    assert got[old]["name"] == "a-never-old" and got[old]["email"].startswith("a-never-old-")
    assert got[old]["organizations"] == [{"id": world.org_id("a"), "slug": world.orgs["a"]["slug"]}]
    assert new not in got
    stopped = got[world.accounts["a-stopped"]]
    assert stopped["inactive_days"] >= 40 and stopped["last_seen"] is not None
    both = all_pages(world.admin, "/activity/inactive", {"days": 1}, 200)
    shared = next((i for i in both if i["account_id"] == world.accounts["both"]), None)
    if shared is not None:
        assert {o["slug"] for o in shared["organizations"]} == {world.orgs["a"]["slug"], world.orgs["b"]["slug"]}


def test_inactive_accounts_of_one_organization_never_show_the_others(world: World) -> None:
    for key, other in (("a", "b"), ("b", "a")):
        theirs = {world.accounts[p.key] for p in PLANS if p.organizations == (other,)}
        got = all_pages(world.admin, "/activity/inactive", {"days": 1, "organization": world.orgs[key]["slug"]}, 200)
        assert got and not theirs & {item["account_id"] for item in got}
    page = world.admin.ok("GET", "/activity/inactive", params={"days": 1, "offset": 1000})
    assert page["items"] == [] and page["total"] > 0 and page["offset"] == 1000


def test_organization_health_matches_the_reference(world: World) -> None:
    sim = world.sim()
    for key in ("a", "b"):
        for value in (world.orgs[key]["id"], world.orgs[key]["slug"]):
            got = world.admin.ok("GET", f"/organizations/{value}/health")
            members, active_7d, active_30d, inactive, previous = reference.health(sim, world.org_id(key))
            assert got["organization"] == {"id": world.org_id(key), "slug": world.orgs[key]["slug"]}
            assert (got["members"], got["active_7d"], got["active_30d"], got["inactive"],
                    got["previous_active_30d"]) == (members, active_7d, active_30d, inactive, previous)
            assert got["trend"] == active_30d - previous
            if previous:
                assert got["trend_ratio"] == pytest.approx(active_30d / previous - 1)
            else:
                assert got["trend_ratio"] is None
    b = world.admin.ok("GET", f"/organizations/{world.orgs['b']['slug']}/health")
    assert b["members"] == sum(1 for p in PLANS if "b" in p.organizations) and b["previous_active_30d"] > 0


def test_health_of_an_organization_without_members(world: World) -> None:
    empty = world.admin.organization()
    got = world.admin.ok("GET", f"/organizations/{empty['slug']}/health")
    assert (got["members"], got["active_30d"], got["inactive"], got["trend"], got["trend_ratio"]) == (0, 0, 0, 0,
                                                                                                        None)


# --- top events --------------------------------------------------------------------------------------------
def check_top(got: dict[str, Any], expected: tuple[int, dict[str, tuple[int, int]]], limit: int) -> None:
    total, names = expected
    assert got["accounts"] == total
    order = sorted(names, key=lambda n: (-names[n][0], n))[:limit]
    assert [item["name"] for item in got["items"]] == order
    for item in got["items"]:
        assert (item["events"], item["accounts"]) == names[item["name"]]
        assert item["adoption"] == pytest.approx(item["accounts"] / total)


def test_top_events_match_the_reference(world: World) -> None:
    sim = world.sim()
    today = sim.today
    default = world.admin.ok("GET", "/activity/top-events")
    check_top(default, reference.top_events(sim, today - timedelta(days=29), today + timedelta(days=1), None), 50)
    start, end = today - timedelta(days=80), today - timedelta(days=5)
    for org in ("a", "b"):
        got = world.admin.ok("GET", "/activity/top-events", params={
            "start": start.isoformat(), "end": end.isoformat(), "organization": world.orgs[org]["slug"], "limit": 3})
        assert got["organization"] == world.org_id(org)
        check_top(got, reference.top_events(sim, start, end, world.org_id(org)), 3)
        assert len(got["items"]) == 3


def test_top_events_of_one_organization_count_only_its_events(world: World) -> None:
    sim = world.sim()
    start, end = sim.today - timedelta(days=HISTORY + 1), sim.today + timedelta(days=1)
    params = {"start": start.isoformat(), "end": end.isoformat()}
    a = world.admin.ok("GET", "/activity/top-events", params={**params, "organization": world.orgs["a"]["id"]})
    expected_a = sum(1 for e in world.events if e.source == "api" and e.organization == world.org_id("a"))
    assert sum(item["events"] for item in a["items"]) == expected_a
    a_accounts = {e.account for e in world.events if e.source == "api" and e.organization == world.org_id("a")}
    assert a["accounts"] == len(a_accounts)
    assert a_accounts <= {world.accounts[p.key] for p in PLANS if "a" in p.organizations}


# --- bad input, authorisation, unavailability --------------------------------------------------------------
RANGE_PATHS = ("/activity/active-users", "/activity/lifecycle", "/activity/top-events")


def test_bad_ranges_and_filters_are_400_naming_the_field(world: World) -> None:
    admin = world.admin
    for path in RANGE_PATHS:
        for params, field in [
            ({"start": "2024-03-10", "end": "2024-03-01"}, "start"),
            ({"start": "2023-01-01", "end": "2024-03-01"}, "end"),
            ({"start": "2024-02-30"}, "start"),
            ({"start": "yesterday"}, "start"),
            ({"end": "2024-3-1"}, "end"),
            ({"end": "20240301"}, "end"),
            ({"start": "1969-12-31", "end": "1970-01-02"}, "start"),
            ({"end": "9999-01-01"}, "end"),
            ({"organization": f"nope-{uuid.uuid4().hex[:6]}"}, "organization"),
            ({"organization": ""}, "organization"),
        ]:
            admin.error("GET", path, 400, "invalid_request", field, params=params)
        admin.error("GET", f"{path}?start=2024-01-01&start=2024-01-02", 400, "invalid_request", "start")
    admin.error("GET", "/activity/lifecycle", 400, "invalid_request", "granularity", params={"granularity": "year"})
    for params, field in [({"limit": 0}, "limit"), ({"limit": 1001}, "limit")]:
        admin.error("GET", "/activity/top-events", 400, "invalid_request", field, params=params)
    for days in ("0", "-3", "x", "1.5"):
        admin.error("GET", "/activity/inactive", 400, "invalid_request", "days", params={"days": days})
    admin.error("GET", "/activity/inactive", 400, "invalid_request", "organization",
                params={"organization": "no-such-organization"})
    admin.error("GET", "/activity/inactive", 400, "invalid_request", "limit", params={"limit": 201})
    sub = world.accounts["a-daily"]
    for params, field in [({"cursor": "not-a-cursor"}, "cursor"), ({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
                          ({"start": "2024-05-02", "end": "2024-05-01"}, "start"),
                          ({"start": "2022-01-01", "end": "2024-05-01"}, "end"), ({"end": "May"}, "end")]:
        admin.error("GET", f"/accounts/{sub}/timeline", 400, "invalid_request", field, params=params)
    malformed = admin.error("GET", f"/accounts/{sub}/timeline", 400, "invalid_request", "cursor",
                            params={"cursor": "not-a-cursor"})
    assert malformed["error_description"] == "cursor: malformed cursor"


def test_unknown_accounts_and_organizations_are_404(world: World) -> None:
    for path in ("/accounts/nope/activity", "/accounts/nope/timeline", f"/organizations/nope-{uuid.uuid4().hex}/health",
                 "/accounts/%00/activity"):
        world.admin.error("GET", path, 404, "not_found")


def test_non_admin_token_is_403(world: World) -> None:
    token = new_token(world.provider, scope="events:write", first_party=True)
    for path in (*RANGE_PATHS, "/activity/inactive", f"/accounts/{world.accounts['loner']}/activity",
                 f"/accounts/{world.accounts['loner']}/timeline", f"/organizations/{world.orgs['a']['slug']}/health"):
        response = world.admin.get(path, token=token)
        assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
        assert world.admin.get(path, token=None).status_code == 401


ALL_PATHS = (*RANGE_PATHS, "/activity/inactive", "/accounts/{account}/activity", "/accounts/{account}/timeline",
             "/organizations/{organization}/health")


def test_without_analytics_activity_is_503(admin: Admin) -> None:
    """The shared provider of the admin tests runs without analytics."""
    account = admin.account(organizations=[{"organization": admin.organization()["slug"]}])
    org = account["organizations"][0]["slug"]
    for path in ALL_PATHS:
        concrete = path.format(account=account["id"], organization=org)
        admin.error("GET", concrete, 503, "temporarily_unavailable")


def test_unreachable_clickhouse_is_503(database_url: str, tmp_path: Path) -> None:
    url = f"clickhouse+native://default@127.0.0.1:{free_port()}/nowhere"
    analytics = Analytics.open(url=url, data_dir=tmp_path, flush_interval=5)
    with own_database(database_url, tmp_path) as accounts_url:
        provider, server = start_provider(tmp_path, accounts_url, analytics, alert_interval=3600)
        try:
            document = httpx.get(f"{provider.url}/admin/api/openapi.json").json()
            with httpx.Client(base_url=provider.url, timeout=30) as http:
                admin = Admin(provider, Spec(document), new_token(provider, admin=True, scope="admin"), http)
                account = admin.account(organizations=[{"organization": admin.organization()["slug"]}])
                for path in ALL_PATHS:
                    concrete = path.format(account=account["id"], organization=account["organizations"][0]["id"])
                    admin.error("GET", concrete, 503, "temporarily_unavailable")
                admin.error("GET", "/activity/lifecycle", 400, "invalid_request", "granularity",
                            params={"granularity": "hour"})
        finally:
            server.stop()
