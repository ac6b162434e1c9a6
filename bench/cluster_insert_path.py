"""Two ways of writing events to a sharded ClickHouse cluster, timed on the same rows.

    python bench/cluster_insert_path.py --url clickhouse+native://default@127.0.0.1:19601/ --cluster canary_shards
        --shard-url clickhouse+native://default@127.0.0.1:19602/ [--rows 50000] [--rounds 6] [--accounts 5000]

* ``distributed``: what Canary does, the spooled Native block inserted into the Distributed `events` of the
  server of ``--url`` with insert_distributed_sync=1 (analytics.clickhouse.ServerEngine.insert_encoded): that
  server splits the block by cityHash64(account) and writes each shard's part, returning when all are written.
* ``local``: the rows split by the shard the same key picks (slot cityHash64(account) % 2 of two shards of
  weight 1, the hashes asked of the server once per account beforehand) and each part inserted into
  `events_local` of its shard directly, the two inserts in parallel threads. The split and its encoding are not
  timed (``distributed``'s encoding is not either): only the inserts are.

A database `canary_bench_cluster_<random>` is made with Canary's migrations (so the materialized views run
behind both) and dropped at the end. Reported: ms per insert of ``--rows`` rows, median and range over rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import migrations
from analytics.clickhouse import Cluster, ServerEngine, native
from analytics.ingest import blocks
from analytics.ingest.encoding import encode_events
from analytics.ingest.model import Event
from analytics.migrations import EVENT_COLUMNS


def events(rows: int, accounts: list[str]) -> list[Event]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [Event(uuid.uuid4(), accounts[i % len(accounts)], f"org-{i % 50}", "bench", "report.viewed", now, now,
                  {"n": i % 997}, "api") for i in range(rows)]


def insert_local(engine: ServerEngine, encoded: bytes) -> None:
    block = blocks.combine([encoded])
    sql = f"INSERT INTO events_local ({', '.join(EVENT_COLUMNS)}) VALUES"
    columns = block.typed_columns()
    engine._pool.run(lambda client: native.send_insert(client, sql, block.rows, columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--shard-url", required=True, help="the server of the second shard")
    parser.add_argument("--cluster", default="canary_shards")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--accounts", type=int, default=5000)
    args = parser.parse_args()
    database = f"canary_bench_cluster_{uuid.uuid4().hex[:8]}"
    cluster = Cluster(args.cluster)
    first = ServerEngine(str(sa.engine.make_url(args.url).set(database=database)), cluster=cluster)
    second = ServerEngine(str(sa.engine.make_url(args.shard_url).set(database=database)), cluster=cluster)
    try:
        migrations.migrate(first)
        accounts = [uuid.uuid4().hex for _ in range(args.accounts)]
        listed = ", ".join(f"'{a}'" for a in accounts)
        hashed = first.execute(f"SELECT a, cityHash64(a) % 2 FROM (SELECT arrayJoin([{listed}]) AS a)")
        slot: dict[str, int] = {str(account): int(n) for account, n in hashed}
        timings: dict[str, list[float]] = {"distributed": [], "local": []}
        for _ in range(args.rounds):
            rows = events(args.rows, accounts)
            encoded = encode_events(rows)
            started = time.perf_counter()
            first.insert_encoded([encoded])
            timings["distributed"].append(time.perf_counter() - started)
            rows = events(args.rows, accounts)
            parts = [encode_events([e for e in rows if slot[e.account] == n]) for n in (0, 1)]
            started = time.perf_counter()
            threads = [threading.Thread(target=insert_local, args=(engine, part))
                       for engine, part in zip((first, second), parts, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            timings["local"].append(time.perf_counter() - started)
        total = first.execute("SELECT count() FROM events")[0][0]
        assert total == 2 * args.rows * args.rounds, total
        for way, seconds in timings.items():
            ms = [s * 1000 for s in seconds]
            print(f"{way:12} {args.rows} rows/insert: median {statistics.median(ms):.0f} ms"
                  f" (range {min(ms):.0f}-{max(ms):.0f} ms over {len(ms)} rounds),"
                  f" {args.rows / statistics.median(seconds):,.0f} rows/s")
    finally:
        first.execute(f"DROP DATABASE IF EXISTS `{database}` ON CLUSTER {args.cluster}")
        first.close()
        second.close()


if __name__ == "__main__":
    main()
