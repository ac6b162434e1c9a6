"""Speed of the early warning over the query benchmark's data set (10 M events, 100 k accounts, 180 days).

    python bench/early_warning_speed.py --url clickhouse+native://default@127.0.0.1:19000/canary_bench
    python bench/early_warning_speed.py --data-dir /tmp/canary-query-bench        # chDB
    python bench/early_warning_speed.py --url ... --skip-load --detector 20       # + the detector, 20 rules

The data are loaded exactly as `bench/queries.py` loads them (its `load`, same seeds; `--skip-load` reuses a
database it filled). Timed, `--runs` times each, median reported:

- **score, last 14 days**: `score_accounts` — every account's window read from ClickHouse and `assess` run on
  each account active in the last `inactive_days` days (every other account is `inactive` by the fixed
  threshold and needs no rhythm): what the at-risk list and the alert detector do.
- **score, every account**: the same for every account active in the last 36,500 days, a rhythm for each.
- **at-risk list**: `at_risk_accounts` through the provider's directory (SQLite accounts database), first page.
- with `--detector N`: `run_detection` with N `account.going_quiet` rules over every account (alert tables in
  the same SQLite database), first run (every quiet account notified) and a second (steady state).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from queries import TODAY, directory, load, sql_directory

from analytics.clickhouse import open_engine
from analytics.directory import AccountDirectory
from analytics.migrations import migrate
from analytics.queries import ChurnModel, at_risk_accounts, score_accounts


def timed(call: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def detector(url: str, engine: object, people: AccountDirectory, rules: int, now: datetime) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from analytics.alerts import create_rule, create_webhook_endpoint, metadata, run_detection

    sql = create_engine(url)
    metadata.create_all(sql)
    factory = sessionmaker(sql, expire_on_commit=False)
    with factory.begin() as db:
        endpoint = create_webhook_endpoint(db, "https://hooks.example.com/canary")
        for index in range(rules):
            create_rule(db, f"quiet {index}", 14, webhook_ids=[endpoint.id], kind="account.going_quiet")
    for label in ("first run", "second run"):
        started = time.perf_counter()
        found = run_detection(factory, engine, people, now)  # type: ignore[arg-type]
        print(f"detector, {rules} rules, {label}: {time.perf_counter() - started:.2f} s, {len(found):,} transitions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="ClickHouse server URL; the database is created")
    target.add_argument("--data-dir", type=Path, help="chDB data directory")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--detector", type=int, default=0, help="also time the detector with this many rules")
    args = parser.parse_args()
    if args.url:
        from clickhouse_driver import Client

        parts = urlsplit(args.url)
        admin = Client(host=parts.hostname or "127.0.0.1", port=parts.port or 9000, user=parts.username or "default")
        admin.execute(f"CREATE DATABASE IF NOT EXISTS {parts.path.strip('/')}")
        admin.disconnect()
    engine = open_engine(args.url, args.data_dir or Path("."))
    try:
        migrate(engine)
        if not args.skip_load:
            load(engine, args.events, args.accounts)
        model = ChurnModel()
        now = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
        scratch = Path(tempfile.mkdtemp(prefix="canary-early-warning-bench-"))
        accounts_url = f"sqlite:///{scratch / 'canary.db'}"
        people = sql_directory(directory(args.accounts), accounts_url, scratch)
        print(f"load averages before: {os.getloadavg()}")
        found, _ = score_accounts(engine, None, TODAY, model)
        everyone, _ = score_accounts(engine, None, TODAY, model, within=36500)
        print(f"accounts scored: {len(found):,} active in the last {model.inactive_days} days, "
              f"{len(everyone):,} ever active")
        cases: list[tuple[str, Callable[[], object]]] = [
            ("score, last 14 days", lambda: score_accounts(engine, None, TODAY, model)),
            ("score, every account", lambda: score_accounts(engine, None, TODAY, model, within=36500)),
            ("at-risk list, first page", lambda: at_risk_accounts(engine, people, now, model)[:50]),
        ]
        for name, call in cases:
            median, times = timed(call, args.runs)
            print(f"{name:28} median {median * 1000:7.0f} ms   runs: {', '.join(f'{t * 1000:.0f}' for t in times)}")
        if args.detector:
            detector(accounts_url, engine, people, args.detector, now)
        print(f"load averages after: {os.getloadavg()}")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
