"""Benchmark of the activity queries over a generated data set.

    python bench/queries.py --url clickhouse+native://default@127.0.0.1:19000/canary_bench
    python bench/queries.py --data-dir /tmp/canary-bench            # chDB
    python bench/queries.py --events 1000000 --accounts 10000 ...   # smaller

Events are generated inside ClickHouse (`INSERT ... SELECT FROM numbers`) with deterministic hashes:
each account is active between a start and an end day within the 180 days, half of the events are
usage events posted by resource servers, 1 % are inserted twice. Accounts belong to one of 20
organizations. The rows and disk size of every table are printed, then each query runs `--runs` times;
the median is reported (targets: < 100 ms on a server, < 1 s on chDB), with the load averages before
and after. `--only` picks queries by a part of their name; `--skip-load` reuses the events of an earlier
run (the migrations still run, so new tables are filled from them).

Accounts come from the provider's own directory (`idp.directory.SqlAccountDirectory`), as the admin API
reads them: a SQLite accounts database in a temporary directory by default, `--accounts-db URL` for
another (PostgreSQL), `--accounts-db memory` for a list in memory (what ClickHouse alone costs).

Before the queries, the daily usage counts are rolled up once (`analytics.rollup`, timed), as the writer
does every few minutes, with no safety margin: the load's inserts have all returned. Then one stored usage
event of the last day is inserted again, so that the last day is counted live as the current day is in
service: top events are timed in that steady state.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import queries, rollup
from analytics.clickhouse import ClickHouse, open_engine
from analytics.directory import AccountDirectory, AccountRef, InMemoryDirectory
from analytics.migrations import migrate

DAYS = 180
ORGANIZATIONS = 20
TODAY = date(2024, 6, 30)
FIRST_DAY = TODAY - timedelta(days=DAYS - 1)
BATCH = 1_000_000


def progress(done: int, total: int, started: float) -> None:
    width = 40
    filled = int(width * done / total)
    rate = done / max(time.monotonic() - started, 1e-9)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} events  {rate:,.0f}/s")
    sys.stderr.flush()


def generate_sql(offset: int, count: int, accounts: int) -> str:
    base = int(datetime.combine(FIRST_DAY, datetime.min.time(), UTC).timestamp())
    return f"""
INSERT INTO events (event_id, account, organization, client_id, name, timestamp, received_at, properties, source)
SELECT generateUUIDv4(), concat('acct-', toString(a)), concat('org-', toString(a % {ORGANIZATIONS})),
       ['web', 'cli', 'mobile'][cityHash64(n, 7) % 3 + 1], name, ts, ts, '{{}}', source
FROM (
    SELECT n, a, first_day, last_day, api,
           if(api, ['report.viewed', 'export.created', 'invoice.sent', 'search.run', 'settings.changed'][
                       cityHash64(n, 6) % 5 + 1],
                   ['signin.succeeded', 'token.issued', 'token.refreshed', 'signin.failed'][cityHash64(n, 8) % 4 + 1])
               AS name,
           if(api, 'api', 'idp') AS source,
           toDateTime({base} + (first_day + cityHash64(n, 4) % (last_day - first_day + 1)) * 86400
                      + cityHash64(n, 5) % 86400) AS ts
    FROM (
        SELECT number + {offset} AS n, cityHash64(n, 1) % {accounts} AS a,
               cityHash64(a, 2) % {DAYS} AS first_day,
               least({DAYS - 1}, first_day + cityHash64(a, 3) % {DAYS}) AS last_day,
               cityHash64(n, 9) % 2 = 0 AS api
        FROM numbers({count})
    )
)"""


def load(engine: Any, events: int, accounts: int) -> None:
    started = time.monotonic()
    done = 0
    while done < events:
        count = min(BATCH, events - done)
        engine.execute(generate_sql(done, count, accounts))
        done += count
        progress(done, events, started)
    engine.execute(
        "INSERT INTO events SELECT event_id, account, organization, client_id, name, timestamp,"
        " received_at + 60, properties, source FROM events WHERE cityHash64(toString(event_id)) % 100 = 0"
    )
    sys.stderr.write(f"\nloaded in {time.monotonic() - started:.1f} s (plus 1 % duplicates)\n")


def directory(accounts: int) -> InMemoryDirectory:
    created = datetime.combine(FIRST_DAY - timedelta(days=30), datetime.min.time(), UTC)
    refs = [
        AccountRef(f"acct-{a}", f"acct-{a}@example.com", None, created, (f"org-{a % ORGANIZATIONS}",))
        for a in range(accounts)
    ]
    return InMemoryDirectory(refs)


def sql_directory(people: InMemoryDirectory, url: str, data_dir: Path) -> AccountDirectory:
    """The provider's own directory over an accounts database holding `people` (migrated and filled when
    it holds nobody yet): what the admin API and the dashboard read."""
    from sqlalchemy import func, insert, select

    from idp.accounts.models import Membership, Organization, User
    from idp.db import make_engine, make_session_factory
    from idp.directory import SqlAccountDirectory
    from idp.migrate import migrate_sql
    from idp.settings import Settings

    migrate_sql(Settings.from_env({}, database_url=url, data_dir=data_dir))
    factory = make_session_factory(make_engine(url))
    with factory.begin() as db:
        if db.scalar(select(func.count()).select_from(User)) == 0:
            started = time.monotonic()
            orgs = sorted({org for ref in people.refs for org in ref.organizations})
            db.execute(insert(Organization), [{"id": org, "slug": org, "name": org} for org in orgs])
            db.execute(insert(User), [
                {"id": ref.sub, "email": ref.email, "name": ref.name or "", "created_at": ref.created_at}
                for ref in people.refs
            ])
            db.execute(insert(Membership), [
                {"user_id": ref.sub, "organization_id": org} for ref in people.refs for org in ref.organizations
            ])
            elapsed = time.monotonic() - started
            sys.stderr.write(f"accounts database: {len(people.refs):,} accounts in {elapsed:.1f} s\n")
    return SqlAccountDirectory(factory)


def load_averages() -> str:
    """The machine's load averages: the figures depend on what else runs on its cores."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def timed(call: Callable[[], object], runs: int) -> float:
    call()  # warm up caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def create_database(url: str) -> None:
    """The database of a ClickHouse server URL, created if missing."""
    from clickhouse_driver import Client

    parts = urlsplit(url)
    admin = Client(host=parts.hostname or "127.0.0.1", port=parts.port or 9000, user=parts.username or "default")
    admin.execute(f"CREATE DATABASE IF NOT EXISTS {parts.path.strip('/')}")
    admin.disconnect()


def prepare(engine: ClickHouse, events: int, accounts: int, skip_load: bool = False) -> None:
    """Migrate, load the events (unless ``skip_load``), roll up, and make the last day live (see above)."""
    migrate(engine)
    if not skip_load:
        load(engine, events, accounts)
    time.sleep(1)  # changes are stamped in whole seconds: the rollup starts in a later one
    rolled = rollup.roll_up(engine, margin=timedelta(0))
    print(f"rollup of {len(rolled.days)} days: {rolled.seconds:.2f} s")
    engine.execute(
        "INSERT INTO events SELECT * FROM events"
        f" WHERE source = 'api' AND timestamp >= toDateTime('{TODAY.isoformat()} 00:00:00', 'UTC') LIMIT 1"
    )
    clean = rollup.clean_days(engine, TODAY - timedelta(days=29), TODAY + timedelta(days=1))
    sys.stderr.write(f"rolled-up days among the last 30: {len(clean)}\n")
    rows = engine.execute("SELECT count(), uniqExact(toString(event_id)) FROM events")
    sys.stderr.write(f"events: {rows[0][1]:,} distinct, {rows[0][0]:,} rows\n")


def table_sizes(engine: ClickHouse) -> list[tuple[str, int, int, int]]:
    """(table, rows, bytes on disk, active parts) of every table of this server's database."""
    sizes = engine.execute(
        "SELECT table, sum(rows), sum(bytes_on_disk), count() FROM system.parts"
        " WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table"
    )
    return [(str(table), int(rows), int(size), int(parts)) for table, rows, size, parts in sizes]


def print_table_sizes(engine: ClickHouse) -> None:
    for table, table_rows, size, parts in table_sizes(engine):
        sys.stderr.write(f"  {table:20} {table_rows:>12,} rows {size / 2**20:>9.1f} MiB {parts:>4} parts\n")


def people(accounts: int, accounts_db: str) -> AccountDirectory:
    """The accounts the queries join: in memory (``memory``), or the provider's directory over a database."""
    in_memory = directory(accounts)
    if accounts_db == "memory":
        return in_memory
    scratch = Path(tempfile.mkdtemp(prefix="canary-query-bench-"))
    return sql_directory(in_memory, accounts_db or f"sqlite:///{scratch / 'canary.db'}", scratch)


Case = tuple[str, Callable[[], object]]


def cases(engine: ClickHouse, people: AccountDirectory) -> list[Case]:
    """Every activity query, named, over the generated data set."""
    now = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
    start30, end = TODAY - timedelta(days=29), TODAY + timedelta(days=1)
    sub = "acct-42"
    page = queries.account_timeline(engine, people, sub, limit=50)
    return [
        ("account_summary", lambda: queries.account_summary(engine, people, sub, now)),
        ("account_timeline (page 1)", lambda: queries.account_timeline(engine, people, sub, limit=50)),
        (
            "account_timeline (page 2)",
            lambda: queries.account_timeline(engine, people, sub, cursor=page.next_cursor, limit=50),
        ),
        ("active_users 30 days, all", lambda: queries.active_users(engine, people, start30, end)),
        ("active_users 30 days, org", lambda: queries.active_users(engine, people, start30, end, "org-3")),
        ("active_users 180 days, all", lambda: queries.active_users(engine, people, FIRST_DAY, end)),
        (
            "lifecycle week 90 days, all",
            lambda: queries.lifecycle(engine, people, end - timedelta(days=90), end, "week"),
        ),
        ("lifecycle day 30 days, org", lambda: queries.lifecycle(engine, people, start30, end, "day", "org-3")),
        ("inactive_accounts 30, all", lambda: queries.inactive_accounts(engine, people, 30, now)[:50]),
        ("inactive_accounts 30, org", lambda: queries.inactive_accounts(engine, people, 30, now, "org-3")[:50]),
        ("organization_health", lambda: queries.organization_health(engine, people, "org-3", now)),
        ("top_events 30 days, all", lambda: queries.top_events(engine, people, start30, end)),
        ("top_events 30 days, org", lambda: queries.top_events(engine, people, start30, end, "org-3")),
    ]


def selected(all_cases: list[Case], only: list[str]) -> list[Case]:
    return [(name, call) for name, call in all_cases if not only or any(part in name for part in only)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="ClickHouse server URL (clickhouse+native://...); the database is created")
    target.add_argument("--data-dir", type=Path, help="chDB data directory")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-load", action="store_true", help="reuse data loaded by a previous run")
    parser.add_argument("--only", action="append", default=[], help="run the queries whose name contains this")
    parser.add_argument(
        "--accounts-db",
        default="",
        help="accounts database URL for the provider's directory (default: SQLite in a temporary directory);"
        " 'memory' reads accounts from a list in memory instead",
    )
    args = parser.parse_args()

    if args.url:
        create_database(args.url)
    engine = open_engine(args.url, args.data_dir or Path("."))
    try:
        prepare(engine, args.events, args.accounts, args.skip_load)
        print_table_sizes(engine)
        directory_ = people(args.accounts, args.accounts_db)
        target_ms = 100 if args.url else 1000
        print(f"load average (1, 5, 15 min): {load_averages()}")
        print(f"{'query':32} {'median ms':>10}  (target < {target_ms} ms, {args.runs} runs)")
        for name, call in selected(cases(engine, directory_), args.only):
            median = timed(call, args.runs)
            flag = "" if median < target_ms else "  OVER"
            print(f"{name:32} {median:10.1f}{flag}", flush=True)
        print(f"load average (1, 5, 15 min): {load_averages()}")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
