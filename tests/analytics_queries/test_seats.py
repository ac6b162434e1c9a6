"""Organization engagement against the simulation's own days and sign-ins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from analytics import migrations, provider_events, queries
from analytics.clickhouse import ClickHouse
from analytics.directory import AccountRef, InMemoryDirectory
from analytics.ingest.model import Event
from analytics.queries import QueryError, engagement_by_organization, organization_engagement
from tests.analytics_queries.conftest import Loaded
from tests.analytics_queries.factory import ORGANIZATIONS
from tests.analytics_queries.reference import active_days


def expected(loaded: Loaded, organization: str) -> tuple[int, int, int, list[int]]:
    sim = loaded.sim
    members = {ref.sub for ref in sim.directory.accounts(organization)}
    days = active_days(sim, members)
    signed = {e.account for e in sim.events if e.name == provider_events.SIGNIN_SUCCEEDED and e.account in members
              and e.timestamp <= sim.now}
    weekly = []
    for w in range(5):
        low, high = sim.today - timedelta(days=7 * w + 6), sim.today - timedelta(days=7 * w)
        weekly.append(sum(1 for sub in members if any(low <= d <= high for d in days.get(sub, ()))))
    return len(members), len(signed), weekly[0], weekly


@pytest.mark.parametrize("organization", ORGANIZATIONS)
def test_engagement_counts_seats_and_weeks(loaded: Loaded, organization: str) -> None:
    members, signed, this_week, weekly = expected(loaded, organization)
    found = organization_engagement(loaded.engine, loaded.sim.directory, organization, loaded.sim.now, 0.25)
    assert (found.members, found.signed_in, found.active_this_week) == (members, signed, this_week)
    assert found.seat_uptake == pytest.approx(signed / members)
    trailing = sum(weekly[1:]) / 4 / members
    assert found.trailing_share == pytest.approx(trailing)
    assert found.declining == (trailing > 0 and this_week / members <= 0.75 * trailing)
    everyone = engagement_by_organization(loaded.engine, loaded.sim.directory, loaded.sim.now, 0.25)
    assert everyone[organization] == found


def test_a_fall_beyond_the_fraction_is_declining(loaded: Loaded) -> None:
    members, _, this_week, weekly = expected(loaded, "org-acme")
    change = (this_week / members) / (sum(weekly[1:]) / 4 / members) - 1
    found = organization_engagement(loaded.engine, loaded.sim.directory, "org-acme", loaded.sim.now,
                                    max(0.01, min(0.99, -change - 0.01)))
    assert found.change == pytest.approx(change) and found.declining == (change < 0)
    calmer = organization_engagement(loaded.engine, loaded.sim.directory, "org-acme", loaded.sim.now,
                                     max(0.01, min(0.99, -change + 0.01)))
    assert not calmer.declining


@pytest.mark.parametrize("fraction", [0, 1, 1.5, True, "0.3"])
def test_a_fraction_out_of_bounds_is_refused(loaded: Loaded, fraction: object) -> None:
    with pytest.raises(QueryError) as error:
        organization_engagement(loaded.engine, loaded.sim.directory, "org-acme", loaded.sim.now,
                                fraction)  # type: ignore[arg-type]
    assert error.value.field == "decline_fraction"


def test_only_the_providers_own_sign_ins_count(engine: ClickHouse) -> None:
    """A posted event (source 'api') named like a sign-in, stored before such names were refused, is usage:
    not a sign-in in seat uptake nor in an account's last sign-in."""
    migrations.migrate(engine)
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    directory = InMemoryDirectory([AccountRef(sub, None, None, now - timedelta(days=90), ("org-a",))
                                   for sub in ("posted", "signed")])
    moment = now - timedelta(days=1)
    engine.insert_events([
        Event(uuid.uuid4(), "posted", "org-a", "rs", provider_events.SIGNIN_SUCCEEDED, moment, moment, {}, "api"),
        Event(uuid.uuid4(), "signed", "org-a", "web", provider_events.SIGNIN_SUCCEEDED, moment, moment, {}, "idp"),
    ])
    found = organization_engagement(engine, directory, "org-a", now)
    assert (found.members, found.signed_in, found.active_this_week) == (2, 1, 2)
    assert engagement_by_organization(engine, directory, now)["org-a"] == found
    assert queries.account_summary(engine, directory, "posted", now).last_signin is None
    assert queries.account_summary(engine, directory, "signed", now).last_signin == moment
