"""Speed of the early warning over the query benchmark's data set (10 M events, 100 k accounts, 180 days).

    python bench/early_warning_speed.py --url clickhouse+native://default@127.0.0.1:19000/canary_bench
    python bench/early_warning_speed.py --data-dir /tmp/canary-query-bench        # chDB
    python bench/early_warning_speed.py --url ... --skip-load --detector 20       # + the detector, 20 rules

The data are loaded exactly as `bench/queries.py` loads them (its `load`, same seeds; `--skip-load` reuses a
database it filled). Timed, `--runs` times each, median reported:

- **score, last 14 days**: `score_accounts` — every account's state computed in ClickHouse
  (`analytics.queries.scoring`) for each account active in the last `inactive_days` days (every other account
  is `inactive` by the fixed threshold and needs no rhythm).
- **score, every account**: the same for every account active in the last 36,500 days: 100,000 states.
- **score, every account, all assessed**: and then every account's full `Assessment` built in Python
  (what a caller asking for every explanation pays).
- **Python scoring, every account**: the windows read (`read_windows`) and `assess` run on each in Python,
  the way scoring worked before the states moved into SQL (kept as the reference).
- **at-risk list**: `at_risk_accounts` through the provider's directory (SQLite accounts database), first page.
- with `--detector N`: `run_detection` over every account (alert tables in the same SQLite database): one
  `account.going_quiet` rule's first run (every quiet account notified), then N such rules in their steady
  state (no transition: what each run of the alert loop costs).
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
from analytics.queries import ChurnModel, assess, at_risk_accounts, read_windows, score_accounts


def timed(call: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def python_scoring(engine: object, model: ChurnModel) -> int:
    """Every account's window read, then `assess` on each in Python."""
    start = model.start(TODAY)
    windows = read_windows(engine, None, start, TODAY, TODAY - timedelta(days=36500))  # type: ignore[arg-type]
    bits = windows.bits
    return len({sub: assess(bits[sub], start, TODAY, last, model) for sub, last in windows.last.items()})


def detector(url: str, engine: object, people: AccountDirectory, rules: int, now: datetime) -> None:
    """One rule's first run (every quiet account notified), then `rules` rules in their steady state: the
    other rules start from the first one's states (copied in SQL), so that a run finds no transition."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    from analytics.alerts import create_rule, create_webhook_endpoint, metadata, run_detection

    sql = create_engine(url)
    metadata.create_all(sql)
    factory = sessionmaker(sql, expire_on_commit=False)
    with factory.begin() as db:
        endpoint = create_webhook_endpoint(db, "https://hooks.example.com/canary")
        first = create_rule(db, "quiet 0", 14, webhook_ids=[endpoint.id], kind="account.going_quiet").id
    started = time.perf_counter()
    found = run_detection(factory, engine, people, now)  # type: ignore[arg-type]
    print(f"detector, 1 rule, first run: {time.perf_counter() - started:.2f} s, {len(found):,} transitions")
    with factory.begin() as db:
        for index in range(1, rules):
            rule = create_rule(db, f"quiet {index}", 14, webhook_ids=[endpoint.id], kind="account.going_quiet")
            db.execute(text("INSERT INTO alert_account_states (rule_id, account, state, changed_at) SELECT :rule,"
                            " account, state, changed_at FROM alert_account_states WHERE rule_id = :first"),
                       {"rule": rule.id, "first": first})
    for label in ("steady state", "steady state, again"):
        started = time.perf_counter()
        found = run_detection(factory, engine, people, now)  # type: ignore[arg-type]
        print(f"detector, {rules} rules, {label}: {time.perf_counter() - started:.2f} s, "
              f"{len(found):,} transitions")


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
    parser.add_argument("--skip-scoring", action="store_true", help="time the detector only")
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
        found = score_accounts(engine, None, TODAY, model)
        everyone = score_accounts(engine, None, TODAY, model, within=36500)
        print(f"accounts scored: {len(found):,} active in the last {model.inactive_days} days, "
              f"{len(everyone):,} ever active")
        cases: list[tuple[str, Callable[[], object]]] = [] if args.skip_scoring else [
            ("score, last 14 days", lambda: score_accounts(engine, None, TODAY, model)),
            ("score, every account", lambda: score_accounts(engine, None, TODAY, model, within=36500)),
            ("score, every account, all assessed",
             lambda: len(list(score_accounts(engine, None, TODAY, model, within=36500).values()))),
            ("Python scoring, every account", lambda: python_scoring(engine, model)),
            ("at-risk list, first page", lambda: at_risk_accounts(engine, people, now, model)[:50]),
        ]
        for name, call in cases:
            median, times = timed(call, args.runs)
            print(f"{name:36} median {median * 1000:7.0f} ms   runs: {', '.join(f'{t * 1000:.0f}' for t in times)}")
        if args.detector:
            detector(accounts_url, engine, people, args.detector, now)
        print(f"load averages after: {os.getloadavg()}")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
