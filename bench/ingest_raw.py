"""Raw insert benchmark: clickhouse-driver batch inserts of event rows into the server, no spool.

    python bench/ingest_raw.py [--rows 5000] [--seconds 15]
                               [--url clickhouse+native://default@127.0.0.1:19000/canary_bench_raw]

The rows are those the writer sends (the `events` table, columnar, DateTime as unix seconds) and are built
before timing starts, so the figure is the ceiling for the server path of the writer.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import schema
from analytics.engines import ServerEngine
from analytics.schema import EVENT_COLUMNS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000, help="rows per INSERT")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--url", default="clickhouse+native://default@127.0.0.1:19000/canary_bench_raw")
    args = parser.parse_args()
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv))

    from clickhouse_driver import Client

    engine = ServerEngine(args.url)
    engine.execute("DROP TABLE IF EXISTS daily_activity_mv")
    for table in ("daily_activity", "events", "schema_migrations"):
        engine.execute(f"DROP TABLE IF EXISTS {table}")
    schema.migrate(engine)
    engine.close()

    now = int(datetime.now(UTC).timestamp())
    columns: list[list[object]] = [
        [str(uuid.uuid4()) for _ in range(args.rows)],
        [f"user-{i % 800}" for i in range(args.rows)],
        [f"org-{i % 4}" for i in range(args.rows)],
        ["bench-client"] * args.rows,
        ["report.viewed"] * args.rows,
        [now] * args.rows,
        [now] * args.rows,
        ['{"ms":1,"path":"/reports/42"}'] * args.rows,
        ["api"] * args.rows,
    ]
    client = Client.from_url(args.url.replace("clickhouse+native://", "clickhouse://"))
    sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES"
    inserts = 0
    started = time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        columns[0] = [str(uuid.uuid4()) for _ in range(args.rows)]
        client.execute(sql, columns, columnar=True)
        inserts += 1
    elapsed = time.perf_counter() - started
    total = inserts * args.rows
    print(
        f"[server raw] {inserts} inserts of {args.rows} rows = {total} rows in {elapsed:.1f} s: "
        f"{total / elapsed:,.0f} rows/s (with MV daily_activity_mv attached)"
    )
    client.disconnect()


if __name__ == "__main__":
    main()
