"""Raw insert benchmark: the rows of bench/ingest_http.py inserted straight into the server, no HTTP, no spool.

    python bench/ingest_raw.py [--rows 50000] [--seconds 15] [--mode both|driver|native] [--no-views]
                               [--url clickhouse+native://default@127.0.0.1:19000/canary_bench_raw]

The `events` table is made by Canary's migrations, so the materialized views that feed daily_activity,
account_activity and usage_events are attached, as they are behind the ingest path (``--no-views`` drops them:
the bare table's ceiling). Two ways of inserting the same rows, ``--rows`` per INSERT:

* ``driver``: clickhouse-driver's best public form, ``execute(INSERT, columns, columnar=True)`` with every value
  already of the type the driver writes without converting it (uuid.UUID, int unix seconds, str). The columns
  are built before timing starts; four sets with distinct event ids are used in turn.
* ``native``: what Canary's writer does, the same rows as spooled Native columns sent as one data packet
  (analytics.clickhouse.ServerEngine.insert_encoded).

Reported per way: rows/s, and CPU µs per row of this process and of the ClickHouse server (found by its port).
The ``[server raw]`` line is the driver's figure, the one bench/ingest_http.py --raw compares against.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import migrations
from analytics.clickhouse import ServerEngine
from analytics.ingest import blocks
from analytics.migrations import EVENT_COLUMNS

ACCOUNTS = [uuid.uuid4().hex for _ in range(40)]
ORGANIZATIONS = [uuid.uuid4().hex for _ in range(2)]


def columns(rows: int, now: int) -> list[list[object]]:
    return [
        [uuid.uuid4() for _ in range(rows)],
        [ACCOUNTS[i % len(ACCOUNTS)] for i in range(rows)],
        [ORGANIZATIONS[i % len(ORGANIZATIONS)] for i in range(rows)],
        ["bench-client"] * rows,
        ["report.viewed"] * rows,
        [now] * rows,
        [now] * rows,
        [f'{{"ms":{i % 997},"path":"/reports/{i % 100}"}}' for i in range(rows)],
        ["api"] * rows,
    ]


def spooled(data: list[list[object]]) -> bytes:
    """The same rows as one spool blob (Native columns)."""
    ids, accounts, organizations, clients, names, timestamps, received, properties, sources = data
    return blocks.pack(len(ids), [
        blocks.uuid_column(b"".join(i.bytes for i in ids)),  # type: ignore[attr-defined]
        blocks.string_column(accounts),  # type: ignore[arg-type]
        blocks.string_column(organizations),  # type: ignore[arg-type]
        blocks.string_column(clients),  # type: ignore[arg-type]
        blocks.string_column(names),  # type: ignore[arg-type]
        blocks.datetime_column(timestamps),  # type: ignore[arg-type]
        blocks.datetime_column(received),  # type: ignore[arg-type]
        blocks.string_column(properties),  # type: ignore[arg-type]
        blocks.string_column(sources),  # type: ignore[arg-type]
    ])


def server_pid(port: int) -> int | None:
    """The clickhouse-server process listening on ``port`` (its config.d/canary.xml names the port)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if not argv or not argv[0].endswith(b"clickhouse-server"):
                continue
            config = next((a.split(b"=", 1)[1] for a in argv if a.startswith(b"--config-file=")), None)
            extra = Path(config.decode()).parent / "config.d" / "canary.xml" if config else None
            if extra is not None and extra.exists() and f"<tcp_port>{port}</tcp_port>" in extra.read_text():
                return int(entry.name)
    return None


def cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, insert: Callable[[int], None], rows: int, seconds: float, pid: int | None) -> float:
    insert(0)  # connection and first part outside the timing
    inserts = 0
    client0, server0, started = time.process_time(), cpu(pid), time.perf_counter()
    while time.perf_counter() - started < seconds:
        insert(inserts)
        inserts += 1
    elapsed = time.perf_counter() - started
    client, server = time.process_time() - client0, cpu(pid) - server0
    total = inserts * rows
    rate = total / elapsed
    server_part = f", server {server / total * 1e6:.2f}" if pid else ""
    print(f"[{label}] {inserts} inserts of {rows} rows = {total} rows in {elapsed:.1f} s: {rate:,.0f} rows/s; "
          f"CPU µs per row: client {client / total * 1e6:.2f}{server_part}", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="rows per INSERT")
    parser.add_argument("--seconds", type=float, default=15.0, help="per way of inserting")
    parser.add_argument("--mode", choices=["both", "driver", "native"], default="both")
    parser.add_argument("--no-views", action="store_true", help="drop the materialized views first")
    parser.add_argument("--url", default="clickhouse+native://default@127.0.0.1:19000/canary_bench_raw")
    args = parser.parse_args()
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)

    from clickhouse_driver import Client

    engine = ServerEngine(args.url)
    database = engine.database
    engine.execute(f"DROP DATABASE IF EXISTS `{database}`")
    engine.close()
    engine = ServerEngine(args.url)
    migrations.migrate(engine)
    if args.no_views:
        for view in ("daily_activity_mv", "account_activity_mv", "usage_events_mv"):
            engine.execute(f"DROP TABLE IF EXISTS {view}")
    views = "without materialized views" if args.no_views else "with the materialized views attached"
    pid = server_pid(sa.engine.make_url(args.url).port or 9000)
    now = int(datetime.now(UTC).timestamp())
    sets = [columns(args.rows, now) for _ in range(4)]
    client = Client.from_url(args.url.replace("clickhouse+native://", "clickhouse://"))
    sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES"
    try:
        if args.mode in ("both", "driver"):
            timed(f"server raw, clickhouse-driver columnar, {views}",
                  lambda n: client.execute(sql, sets[n % 4], columnar=True), args.rows, args.seconds, pid)
        if args.mode in ("both", "native"):
            blobs = [spooled(s) for s in sets]
            timed(f"server, Canary's writer insert (Native packet), {views}",
                  lambda n: engine.insert_encoded([blobs[n % 4]]), args.rows, args.seconds, pid)
    finally:
        client.disconnect()
        engine.execute(f"DROP DATABASE IF EXISTS `{database}`")
        engine.close()


if __name__ == "__main__":
    main()
