"""The at-risk list, the rhythm in an account's activity and organization engagement over HTTP, against
ClickHouse (the test server, and chDB), checked against the scoring function run on the same events' days."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from analytics.api import Analytics, Event
from analytics.queries import ChurnModel, assess
from tests.functional.admin.conftest import Admin, Spec, new_token
from tests.functional.conftest import Provider

MODEL = ChurnModel()


@dataclass
class World:
    admin: Admin
    orgs: dict[str, dict[str, str]]
    subs: dict[str, str]
    """Plan key -> account id."""
    days: dict[str, set[date]]
    """Account id -> its active days."""
    members: dict[str, set[str]]
    """Organization key -> account ids."""
    signed_in: set[str]

    def org_id(self, key: str) -> str:
        return self.orgs[key]["id"]


# key, organizations, active days ago (a range with a step, or a probability per day)
PLANS: list[tuple[str, tuple[str, ...], list[int]]] = [
    ("daily-quiet", ("a",), list(range(6, 110))),
    ("monthly", ("a",), [6, 36, 66, 96]),
    ("daily", ("a", "b"), list(range(0, 110))),
    ("slowing", ("b",), [*range(15, 110), 9, 3]),
    ("gone", ("b",), list(range(20, 110))),
]


@pytest.fixture(scope="module")
def world(ingest: Provider) -> Iterator[World]:
    """Accounts in two organizations with known active days, posted as usage events (some as sign-ins)."""
    provider = ingest
    analytics: Analytics = provider.extra["analytics"]
    document = httpx.get(f"{provider.url}/admin/api/openapi.json").json()
    token = new_token(provider, admin=True, scope="admin")
    rng = random.Random(16)
    plans = [*PLANS, *((f"random-{i}", ("b",), [d for d in range(110) if rng.random() < rng.choice((0.3, 0.7))])
                       for i in range(6))]
    with httpx.Client(base_url=provider.url, timeout=60) as http:
        admin = Admin(provider, Spec(document), token, http)
        tag = secrets.token_hex(4)
        orgs = {key: admin.organization(slug=f"{key}-{tag}") for key in ("a", "b")}
        now = datetime.now(UTC).replace(microsecond=0)
        subs, days, members, signed = {}, {}, {"a": set(), "b": set()}, set()
        events = []
        for key, organizations, ago in plans:
            account = admin.account(email=f"{key}-{tag}@example.com", name=key,
                                    organizations=[{"organization": orgs[o]["slug"]} for o in organizations])
            sub = account["id"]
            subs[key] = sub
            days[sub] = {(now - timedelta(days=d)).date() for d in ago}
            for o in organizations:
                members[o].add(sub)
            for d in ago:
                name, source = ("signin.succeeded", "idp") if d % 10 == 0 else ("report.viewed", "api")
                signed.update([sub] if name == "signin.succeeded" else [])
                when = now - timedelta(days=d)
                events.append(Event(uuid.uuid4(), sub, "", "web", name, when, when, {}, source))
        analytics.accept(events)
        analytics.flush(30)
        yield World(admin, orgs, subs, days, members, signed)


def expected_at_risk(world: World, members: set[str] | None = None) -> list[tuple[str, str, float, str]]:
    today = datetime.now(UTC).date()
    start = MODEL.start(today)
    found = []
    for sub, active in world.days.items():
        if (members is not None and sub not in members) or not active:
            continue
        last = max(active)
        if (today - last).days >= MODEL.inactive_days:
            continue
        bits = sum(1 << (d - start).days for d in active if start <= d <= today)
        verdict = assess(bits, start, today, last, MODEL)
        if verdict.state in ("going_quiet", "slowing"):
            found.append((sub, verdict.state, verdict.score, verdict.explanation))
    return sorted(found, key=lambda item: (-item[2], item[0]))


def test_at_risk_matches_the_scoring_of_the_same_days(world: World) -> None:
    got = world.admin.ok("GET", "/activity/at-risk", params={"limit": 200})
    expected = expected_at_risk(world)
    assert [(i["account_id"], i["state"], i["score"], i["explanation"]) for i in got["items"]] == expected
    assert got["total"] == len(expected)
    assert {world.subs["daily-quiet"], world.subs["slowing"]} <= {i["account_id"] for i in got["items"]}
    slowing = next(i for i in got["items"] if i["account_id"] == world.subs["slowing"])
    assert slowing["state"] == "slowing" and slowing["explanation"].endswith("against 14 usually")
    daily = next(i for i in got["items"] if i["account_id"] == world.subs["daily-quiet"])
    assert daily["state"] == "going_quiet" and daily["silent_days"] == 6
    assert daily["explanation"] == ("usually active 7 days a week; silent for 6 days, beyond its usual gaps of up "
                                    "to 1 day")
    assert daily["last_seen"] == (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    assert daily["organizations"] == [{"id": world.org_id("a"), "slug": world.orgs["a"]["slug"]}]
    listed = {i["account_id"] for i in got["items"]}
    assert not {world.subs["monthly"], world.subs["gone"], world.subs["daily"]} & listed
    page = world.admin.ok("GET", "/activity/at-risk", params={"offset": 1, "limit": 1})
    assert [i["account_id"] for i in page["items"]] == [e[0] for e in expected[1:2]]


def test_at_risk_of_one_organization(world: World) -> None:
    got = world.admin.ok("GET", "/activity/at-risk", params={"organization": world.orgs["b"]["slug"]})
    assert [i["account_id"] for i in got["items"]] == [e[0] for e in expected_at_risk(world, world.members["b"])]
    assert world.subs["daily-quiet"] not in {i["account_id"] for i in got["items"]}
    world.admin.error("GET", "/activity/at-risk", 400, "invalid_request", "organization",
                      params={"organization": "no-such-org"})


def test_account_activity_carries_its_rhythm(world: World) -> None:
    daily = world.admin.ok("GET", f"/accounts/{world.subs['daily-quiet']}/activity")["rhythm"]
    assert daily["state"] == "going_quiet" and daily["rhythm"]["usual_gap"] == 1
    monthly = world.admin.ok("GET", f"/accounts/{world.subs['monthly']}/activity")["rhythm"]
    assert monthly["state"] == "active" and monthly["rhythm"]["usual_gap"] == 30
    assert monthly["explanation"] == "usually active every 30 days; silent for 6 days"
    never = world.admin.account(email=f"never-{uuid.uuid4().hex[:6]}@example.com")
    assert world.admin.ok("GET", f"/accounts/{never['id']}/activity")["rhythm"] is None


def test_organization_engagement(world: World) -> None:
    today = datetime.now(UTC).date()
    members = world.members["b"]
    weekly = [sum(1 for sub in members if any(today - timedelta(days=7 * w + 6) <= d <= today - timedelta(days=7 * w)
                                              for d in world.days[sub])) for w in range(5)]
    got = world.admin.ok("GET", f"/organizations/{world.orgs['b']['slug']}/engagement")
    assert got["members"] == len(members) and got["active_this_week"] == weekly[0]
    trailing = sum(weekly[1:]) / 4 / len(members)
    assert got["trailing_share"] == pytest.approx(trailing)
    assert got["declining"] == (trailing > 0 and weekly[0] / len(members) <= 0.7 * trailing)
    assert got["decline_fraction"] == 0.3
    assert got["signed_in"] == len(members & world.signed_in)
    assert got["seat_uptake"] == pytest.approx(len(members & world.signed_in) / len(members))
