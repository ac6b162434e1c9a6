"""The at-risk list, the rhythm in an account's activity and organization engagement over HTTP, against
ClickHouse (the test server, and chDB), checked against the scoring function run on the same events' days."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from analytics.directory import AccountRef
from analytics.queries import ChurnModel, assess
from tests.analytics_queries import reference
from tests.analytics_queries.factory import SimEvent
from tests.functional.admin.test_activity import World, to_event, world  # noqa: F401 (the fixture)

MODEL = ChurnModel()


@pytest.fixture(scope="module")
def quiet(world: World) -> dict[str, str]:  # noqa: F811
    """Two more members of "a": a daily user silent for 6 days, and one active every 30 days, silent for 6 too."""
    now = datetime.now(UTC).replace(microsecond=0)
    subs = {}
    events = []
    for key, step in (("daily-quiet", 1), ("monthly", 30)):
        account = world.admin.account(email=f"{key}-{uuid.uuid4().hex[:6]}@example.com", name=key,
                                      organizations=[{"organization": world.orgs["a"]["slug"]}])
        subs[key] = account["id"]
        world.refs.append(AccountRef(account["id"], account["email"], key, now, (world.org_id("a"),)))
        for ago in range(6, 110, step):
            when = now - timedelta(days=ago)
            events.append(SimEvent(uuid.uuid4(), account["id"], "", "web", "report.viewed", when, when, "{}", "api"))
    world.events.extend(events)
    world.analytics.accept([to_event(e) for e in events])
    world.analytics.flush(30)
    return subs


def expected_at_risk(state: World, members: set[str] | None = None) -> list[tuple[str, str, float, str]]:
    today = datetime.now(UTC).date()
    start = MODEL.start(today)
    days = reference.active_days(state.sim())
    found = []
    for sub, active in days.items():
        if sub == "deleted-account" or (members is not None and sub not in members) or not active:
            continue
        last = max(active)
        if (today - last).days >= MODEL.inactive_days:
            continue
        bits = sum(1 << (d - start).days for d in active if start <= d <= today)
        verdict = assess(bits, start, today, last, MODEL)
        if verdict.state in ("going_quiet", "slowing"):
            found.append((sub, verdict.state, verdict.score, verdict.explanation))
    return sorted(found, key=lambda item: (-item[2], item[0]))


def test_at_risk_matches_the_scoring_of_the_same_days(world: World, quiet: dict[str, str]) -> None:  # noqa: F811
    got = world.admin.ok("GET", "/activity/at-risk", params={"limit": 200})
    expected = expected_at_risk(world)
    assert [(i["account_id"], i["state"], i["score"], i["explanation"]) for i in got["items"]] == expected
    assert got["total"] == len(expected)
    daily = next(i for i in got["items"] if i["account_id"] == quiet["daily-quiet"])
    assert daily["state"] == "going_quiet" and daily["silent_days"] == 6
    assert daily["explanation"] == ("usually active 7 days a week; silent for 6 days, beyond its usual gaps of up "
                                    "to 1 day")
    assert daily["last_seen"] == (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    assert daily["organizations"] == [{"id": world.org_id("a"), "slug": world.orgs["a"]["slug"]}]
    assert quiet["monthly"] not in {i["account_id"] for i in got["items"]}
    page = world.admin.ok("GET", "/activity/at-risk", params={"offset": 1, "limit": 1})
    assert [i["account_id"] for i in page["items"]] == [e[0] for e in expected[1:2]]


def test_at_risk_of_one_organization(world: World, quiet: dict[str, str]) -> None:  # noqa: F811
    members = {ref.sub for ref in world.refs if world.org_id("b") in ref.organizations}
    got = world.admin.ok("GET", "/activity/at-risk", params={"organization": world.orgs["b"]["slug"]})
    assert [i["account_id"] for i in got["items"]] == [e[0] for e in expected_at_risk(world, members)]
    world.admin.error("GET", "/activity/at-risk", 400, "invalid_request", "organization",
                      params={"organization": "no-such-org"})


def test_account_activity_carries_its_rhythm(world: World, quiet: dict[str, str]) -> None:  # noqa: F811
    daily = world.admin.ok("GET", f"/accounts/{quiet['daily-quiet']}/activity")["rhythm"]
    assert daily["state"] == "going_quiet" and daily["rhythm"]["usual_gap"] == 1
    monthly = world.admin.ok("GET", f"/accounts/{quiet['monthly']}/activity")["rhythm"]
    assert monthly["state"] == "active" and monthly["rhythm"]["usual_gap"] == 30
    assert monthly["explanation"] == "usually active every 30 days; silent for 6 days"
    never = world.admin.ok("GET", f"/accounts/{world.accounts['a-never-new']}/activity")
    assert never["rhythm"] is None


def test_organization_engagement(world: World, quiet: dict[str, str]) -> None:  # noqa: F811
    today = datetime.now(UTC).date()
    members = [ref.sub for ref in world.refs if world.org_id("b") in ref.organizations]
    days = reference.active_days(world.sim())
    weekly = [sum(1 for sub in members if any(today - timedelta(days=7 * w + 6) <= d <= today - timedelta(days=7 * w)
                                              for d in days.get(sub, ()))) for w in range(5)]
    got = world.admin.ok("GET", f"/organizations/{world.orgs['b']['slug']}/engagement")
    assert got["members"] == len(members) and got["active_this_week"] == weekly[0]
    trailing = sum(weekly[1:]) / 4 / len(members)
    assert got["trailing_share"] == pytest.approx(trailing)
    assert got["declining"] == (trailing > 0 and weekly[0] / len(members) <= 0.7 * trailing)
    assert got["decline_fraction"] == 0.3
    signed = {e.account for e in world.events if e.name == "signin.succeeded" and e.account in members}
    assert got["signed_in"] == len(signed)

