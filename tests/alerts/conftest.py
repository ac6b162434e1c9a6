"""Fixtures for alert tests: an alert database (SQLite file or a private PostgreSQL schema), a fake
activity source, a directory, and a local webhook receiver."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from analytics.alerts.models import metadata
from analytics.clickhouse import EmbeddedEngine
from analytics.directory import AccountRef, InMemoryDirectory
from analytics.ingest.model import Event
from analytics.migrations import migrate

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TODAY = date(2024, 6, 1)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class FakeActivity:
    """Activity from a dict of last active days: the queries run on chDB holding one sign-in per account on
    its last active day. Changing `last` reloads what changed (from scratch when a day moves back).

    One process holds one chDB data directory at a time, so every instance is closed when its test ends
    (``close_activity``): a log record's traceback can otherwise keep one alive into the next test."""

    opened: weakref.WeakSet[FakeActivity] = weakref.WeakSet()

    def __init__(self, last: dict[str, date] | None = None) -> None:
        self.last = dict(last or {})
        self._loaded: dict[str, date] = {}
        self._path = Path(tempfile.mkdtemp(prefix="canary-alerts-activity-"))
        self._engine: EmbeddedEngine | None = None
        weakref.finalize(self, FakeActivity._close, self.__dict__)
        FakeActivity.opened.add(self)

    def close(self) -> None:
        FakeActivity._close(self.__dict__)
        self._engine = None

    @staticmethod
    def _close(state: dict[str, Any]) -> None:
        if state["_engine"] is not None:
            state["_engine"].close()
            state["_engine"] = None
        shutil.rmtree(state["_path"], ignore_errors=True)

    def execute(self, statement: str) -> Any:
        moved_back = any(sub not in self.last or self.last[sub] < day for sub, day in self._loaded.items())
        if self._engine is None or moved_back:
            if self._engine is not None:
                self._engine.close()
                shutil.rmtree(self._path, ignore_errors=True)
            self._engine = EmbeddedEngine(self._path)
            migrate(self._engine)
            self._loaded = {}
        changed = {sub: day for sub, day in self.last.items() if self._loaded.get(sub) != day}
        if changed:
            self._engine.insert_events(
                [
                    Event(uuid.uuid4(), sub, "", "web", "signin.succeeded", moment, moment, {}, "idp")
                    for sub, day in changed.items()
                    for moment in [datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)]
                ]
            )
            self._loaded.update(changed)
        return self._engine.execute(statement)


@pytest.fixture(autouse=True)
def close_activity() -> Iterator[None]:
    yield
    for activity in list(FakeActivity.opened):
        activity.close()


@dataclass
class AlertDatabase:
    """Opens fresh engines over the same database, as a restarted process would."""

    open_engine: Callable[[], Engine]
    engines: list[Engine] = field(default_factory=list)

    def session_factory(self) -> sessionmaker[Session]:
        engine = self.open_engine()
        self.engines.append(engine)
        return sessionmaker(engine, expire_on_commit=False)

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


def _sqlite(tmp_path: Any) -> Iterator[AlertDatabase]:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    database = AlertDatabase(lambda: create_engine(url))
    yield database
    database.dispose()


def _postgres() -> Iterator[AlertDatabase]:
    schema = f"alerts_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # pragma: no cover - depends on the machine
        admin.dispose()
        pytest.fail(f"PostgreSQL unavailable: {error}")

    def open_engine() -> Engine:
        return create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})

    engine = open_engine()
    metadata.create_all(engine)
    engine.dispose()
    database = AlertDatabase(open_engine)
    try:
        yield database
    finally:
        database.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[AlertDatabase]:
    if request.param == "sqlite":
        yield from _sqlite(tmp_path)
    else:
        yield from _postgres()


@pytest.fixture
def sqlite_database(tmp_path: Any) -> Iterator[AlertDatabase]:
    yield from _sqlite(tmp_path)


def account(sub: str, created_days_ago: int, organizations: tuple[str, ...] = ("org-a",)) -> AccountRef:
    return AccountRef(sub, f"{sub}@example.com", sub.title(), NOW - timedelta(days=created_days_ago), organizations)


@pytest.fixture
def directory() -> InMemoryDirectory:
    return InMemoryDirectory(
        [
            account("alice", 100),
            account("bob", 100),
            account("carol", 30),
            account("dave", 2),
            account("erin", 100, ("org-b",)),
        ]
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on 127.0.0.1; answers with `statuses` in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = [204]
        self.delay = 0.0
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                if receiver.delay:
                    receiver.event.wait(receiver.delay)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def close(self) -> None:
        self.event.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
