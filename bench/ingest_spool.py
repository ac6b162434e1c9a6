"""Ingest benchmark: threads appending batches to the durable spool while the writer drains to ClickHouse.

    python bench/ingest_spool.py [--threads 16] [--batch 100] [--seconds 15]
                                 [--target both|server|chdb|spool-only]
                                 [--url clickhouse+native://default@127.0.0.1:19000/canary_bench]

Reports sustained events/s acknowledged by Spool.append, p50/p99 append latency, and whether the writer
kept up (events still spooled at the end, time to drain them).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import migrations
from analytics.clickhouse import ClickHouse, EmbeddedEngine, ServerEngine
from analytics.ingest.model import Event
from analytics.spool import Spool
from analytics.writer import Writer


def make_batch(thread: int, size: int, now: datetime) -> list[Event]:
    return [
        Event(
            event_id=uuid.uuid4(),
            account=f"user-{thread}-{i % 50}",
            organization=f"org-{thread % 4}",
            client_id="bench-client",
            name="report.viewed",
            timestamp=now,
            received_at=now,
            properties={"path": "/reports/42", "ms": i},
            source="api",
        )
        for i in range(size)
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(target: str, engine: ClickHouse | None, args: argparse.Namespace, directory: Path) -> None:
    spool = Spool(directory / f"spool-{target}.sqlite3", 4 << 30)
    writer: Writer | None = None
    if engine is not None:
        migrations.migrate(engine)
        writer = Writer(spool, engine, batch_rows=args.batch_rows, interval=1.0)
        writer.start()
    now = datetime.now(UTC).replace(microsecond=0)
    latencies: list[list[float]] = [[] for _ in range(args.threads)]
    counts = [0] * args.threads
    stop = threading.Event()
    # Pre-built batches: the benchmark measures the spool, not event construction.
    batches = [[make_batch(t, args.batch, now) for _ in range(4)] for t in range(args.threads)]

    def work(t: int) -> None:
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            spool.append(batches[t][n % 4])
            latencies[t].append(time.perf_counter() - started)
            counts[t] += args.batch
            n += 1
            if n % 4 == 0:
                batches[t][(n // 4) % 4] = make_batch(t, args.batch, now) if args.fresh else batches[t][0]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = sum(counts)
    all_latencies = [x for per_thread in latencies for x in per_thread]
    backlog = spool.pending_rows
    latency = (
        f"append latency p50 {percentile(all_latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(all_latencies, 0.99) * 1000:.1f} ms, max {max(all_latencies) * 1000:.1f} ms"
    )
    if writer is None:
        spool.close()
        print(f"[{target}] appended {total} events in {elapsed:.1f} s = {total / elapsed:,.0f} events/s; {latency}")
        return
    drain_started = time.perf_counter()
    writer.flush(timeout=300)
    drain = time.perf_counter() - drain_started
    writer.stop()
    spool.close()
    print(
        f"[{target}] appended {total} events in {elapsed:.1f} s = {total / elapsed:,.0f} events/s; {latency}; "
        f"writer inserted {writer.inserted_rows} rows "
        f"({writer.inserted_rows / (elapsed + drain):,.0f} rows/s incl. final drain); "
        f"backlog at stop {backlog} events, drained in {drain:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--target", choices=["both", "server", "chdb", "spool-only"], default="both")
    parser.add_argument("--url", default="clickhouse+native://default@127.0.0.1:19000/canary_bench")
    parser.add_argument("--fresh", action="store_true", help="build new event objects while appending")
    args = parser.parse_args()
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv))
    with tempfile.TemporaryDirectory(prefix="canary-bench-") as tmp:
        directory = Path(tmp)
        if args.target == "spool-only":
            run("spool only, no writer", None, args, directory)
        if args.target in ("both", "server"):
            server = ServerEngine(args.url)
            try:
                server.execute("DROP TABLE IF EXISTS daily_activity_mv")
                for table in ("daily_activity", "events", "schema_migrations"):
                    server.execute(f"DROP TABLE IF EXISTS {table}")
                run("server", server, args, directory)
            finally:
                server.close()
        if args.target in ("both", "chdb"):
            embedded = EmbeddedEngine(directory / "clickhouse")
            try:
                run("chdb", embedded, args, directory)
            finally:
                embedded.close()


if __name__ == "__main__":
    main()
