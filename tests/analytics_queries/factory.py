"""Simulated activity: accounts in organizations, events over many days, with duplicate rows."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from analytics import provider_events
from analytics.clickhouse import ClickHouse
from analytics.directory import AccountRef, InMemoryDirectory
from analytics.ingest.model import Event

ORGANIZATIONS = ("org-acme", "org-globex", "org-initech")
IDP_NAMES = (provider_events.SIGNIN_SUCCEEDED, provider_events.TOKEN_ISSUED, provider_events.TOKEN_REFRESHED,
             provider_events.SIGNIN_FAILED, "consent.granted")
API_NAMES = ("report.viewed", "export.created", "invoice.sent", "search.run")
CLIENTS = ("web", "cli", "mobile")


@dataclass(frozen=True, slots=True)
class SimEvent:
    event_id: uuid.UUID
    account: str
    organization: str
    client_id: str
    name: str
    timestamp: datetime
    received_at: datetime
    properties: str
    source: str

    @property
    def is_activity(self) -> bool:
        return self.account != "" and (self.source == "api" or self.name in provider_events.ACTIVITY)

    def event(self) -> Event:
        return Event(self.event_id, self.account, self.organization, self.client_id, self.name, self.timestamp,
                     self.received_at, json.loads(self.properties), self.source)  # type: ignore[arg-type]


def insert_rows(engine: ClickHouse, rows: list[SimEvent], batch: int = 2000) -> None:
    """Store simulated rows (duplicates included) as the writer would, ``batch`` rows per insert."""
    for index in range(0, len(rows), batch):
        engine.insert_events([row.event() for row in rows[index : index + batch]])


@dataclass
class Simulation:
    today: date
    now: datetime
    directory: InMemoryDirectory
    events: list[SimEvent]
    """Distinct events."""
    rows: list[SimEvent]
    """What is inserted: every event, some twice (same event_id, later received_at)."""


def simulate(seed: int = 7, accounts: int = 200, days: int = 120, today: date = date(2024, 6, 1)) -> Simulation:
    rng = random.Random(seed)
    first_day = today - timedelta(days=days - 1)
    now = datetime(today.year, today.month, today.day, 15, 30, tzinfo=UTC)
    refs: list[AccountRef] = []
    events: list[SimEvent] = []
    for index in range(accounts):
        sub = f"acct-{index:04d}"
        memberships = tuple(sorted(rng.sample(ORGANIZATIONS, rng.choice((0, 1, 1, 1, 2)))))
        created = datetime.combine(
            first_day + timedelta(days=rng.randint(-60, days - 1)), datetime.min.time(), UTC
        ) + timedelta(seconds=rng.randint(0, 86_399))
        refs.append(AccountRef(sub, f"{sub}@example.com", f"Account {index}", created, memberships))
        style = rng.random()
        if style < 0.1:
            continue  # never active
        rate = rng.choice((0.05, 0.2, 0.5, 0.9))
        stop = created.date() + timedelta(days=rng.randint(5, days + 60))
        pause = (created.date() + timedelta(days=rng.randint(0, 60)), rng.randint(0, 40))
        day = max(created.date(), first_day - timedelta(days=40))
        while day <= today and day < stop:
            paused = pause[0] <= day < pause[0] + timedelta(days=pause[1])
            if not paused and rng.random() < rate:
                for _ in range(rng.randint(1, 4)):
                    moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=rng.randint(0, 86_399))
                    if day == today and moment > now:
                        continue
                    api = rng.random() < 0.5
                    name = rng.choice(API_NAMES if api else IDP_NAMES)
                    organization = rng.choice((*memberships, "")) if memberships else ""
                    events.append(
                        SimEvent(
                            uuid.UUID(int=rng.getrandbits(128)),
                            sub,
                            organization,
                            rng.choice(CLIENTS),
                            name,
                            moment,
                            moment + timedelta(seconds=1),
                            json.dumps({"n": rng.randint(0, 9)}),
                            "api" if api else "idp",
                        )
                    )
            day += timedelta(days=1)
    # Events of accounts the directory does not know (deleted) and without an account.
    for index in range(30):
        moment = datetime.combine(today - timedelta(days=index), datetime.min.time(), UTC)
        events.append(
            SimEvent(
                uuid.UUID(int=rng.getrandbits(128)),
                "" if index % 2 else "ghost",
                "",
                "web",
                "report.viewed",
                moment,
                moment,
                "{}",
                "api",
            )
        )
    rows = list(events)
    for event in rng.sample(events, len(events) // 20):
        rows.append(replace(event, received_at=event.received_at + timedelta(minutes=5)))
    rng.shuffle(rows)
    directory = InMemoryDirectory(refs, extra_organizations={"org-empty"})
    return Simulation(today, now, directory, events, rows)
