"""Capacity of Canary's events on a 2-shard ClickHouse cluster against one server, in one run on this machine.

    python bench/cluster.py [--events 500000 --events 2000000] [--events-per-account 100] [--runs 5]
                            [--only NAME ...] [--ingest-seconds 15] [--warmup 3] [--connections 16]
                            [--batch 100] [--rounds 2] [--skip-ingest] [--skip-queries] [--json FILE]

Starts a ClickHouse cluster (``.ci/cluster.sh``: ZooKeeper and three servers; the cluster ``canary_shards`` is
servers 1 and 2, one shard each) and one more server on its own (``.ci/clickhouse.sh``), all on loopback ports
of their own under a temporary directory, and stops them at the end. Then, for both targets:

* **ingest**: ``canary serve`` POSTing batches through wrk, as ``bench/ingest_http.py --target server`` does
  (its ``run_target``), with CANARY_ANALYTICS_URL naming server 1 and CANARY_ANALYTICS_CLUSTER=canary_shards for
  the cluster; ``--rounds`` runs of each, alternating which goes first. Reported: accepted events/s, latency,
  CPU of Canary and of the ClickHouse servers, drain time, and the check that ClickHouse holds what was answered.
* **queries**: for each ``--events`` size a fresh database loaded as ``bench/queries.py`` loads it (same
  generator, ``--events-per-account`` events per account over 180 days, 1 % inserted twice), then every query
  of that bench timed (median of ``--runs``). On the cluster the load goes through the Distributed table
  (synchronously, as Canary's writer inserts), and the queries read the Distributed tables.
* **granules read**: what one call of each query reads from the MergeTree tables of every server (the change
  of ``SelectedMarks`` in ``system.events``; a granule is 8,192 rows at most): unlike the time, it does not
  depend on other load on the machine; from ``system.query_log`` (turned on for the servers started here), the
  rows the query's statements read, the most memory one of them took on a server, and their time inside
  ClickHouse (summed, statements run in parallel counted each).
* **memory**: the peak resident memory so far of each ClickHouse server after each size's queries.
* **disk**: rows, compressed bytes on disk and bytes per row of every table, from ``system.parts`` summed over
  the shards, and the compressed and uncompressed bytes of each column of the events (``system.columns``).

Every server shares this machine's cores with the others, Canary, wrk and the load generator: the cluster does
more work per event and per query here (its Distributed insert sends each shard's rows on to a second process;
each query runs on both servers and is merged on the first), so it cannot be faster on one machine; the run
shows what that overhead costs and how the work grows with the data, which docs/cluster.md projects to shards
on machines of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ingest_http  # the sibling modules; a script's own directory is first on sys.path
import queries

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.clickhouse import ClickHouse, Cluster, ServerEngine  # noqa: E402
from tests.support.cluster import SHARDS, start_cluster  # noqa: E402
from tests.support.cluster import Cluster as TestCluster  # noqa: E402

SINGLE = "one server"
CLUSTER = "2 shards"


@dataclass(frozen=True)
class Target:
    """Where the events go: one server, or the cluster through its server 1."""

    name: str
    base_url: str  # without a database
    cluster: str | None
    servers: tuple[str, ...]  # base URLs of the servers holding the rows (the shards)

    def url(self, database: str) -> str:
        return f"{self.base_url}/{database}"

    def engine(self, database: str) -> ClickHouse:
        return ServerEngine(self.url(database), cluster=Cluster(self.cluster) if self.cluster else None)


LOG_QUERIES = """<?xml version="1.0"?>
<yandex><profiles><default><log_queries>1</log_queries></default></profiles></yandex>
"""


def log_queries(server_dir: Path, url: str) -> None:
    """Turn on ``system.query_log`` for a server started here (its users.d, reloaded within seconds)."""
    (server_dir / "users.d").mkdir(exist_ok=True)
    (server_dir / "users.d" / "log_queries.xml").write_text(LOG_QUERIES)
    deadline = time.monotonic() + 30
    while True:
        engine = ServerEngine(f"{url}/default")  # a session takes its profile's settings when it opens
        try:
            if engine.execute("SELECT value FROM system.settings WHERE name = 'log_queries'")[0][0] == "1":
                return
        finally:
            engine.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server_dir}: log_queries did not turn on")
        time.sleep(0.5)


def native_url(port: int) -> str:
    return f"clickhouse+native://default@127.0.0.1:{port}"


@contextlib.contextmanager
def servers(scratch: Path) -> Iterator[tuple[Target, Target]]:
    """The cluster and one more server, started here, stopped at the end."""
    cluster: TestCluster | None = None
    single_dir = scratch / "single"
    try:
        cluster = start_cluster(scratch / "cluster")
        tcp, http = ingest_http.free_port(), ingest_http.free_port()
        subprocess.run(["bash", str(ROOT / ".ci" / "clickhouse.sh"), "start", str(single_dir), str(tcp), str(http)],
                       check=True, capture_output=True, text=True, timeout=120)
        log_queries(single_dir, native_url(tcp))
        for server in (1, 2):
            log_queries(cluster.directory / f"ch{server}", native_url(cluster.native_port(server)))
        yield (Target(SINGLE, native_url(tcp), None, (native_url(tcp),)),
               Target(CLUSTER, native_url(cluster.native_port(1)), SHARDS,
                      (native_url(cluster.native_port(1)), native_url(cluster.native_port(2)))))
    finally:
        if single_dir.exists():
            subprocess.run(["bash", str(ROOT / ".ci" / "clickhouse.sh"), "stop", str(single_dir)],
                           capture_output=True, timeout=120)
        if cluster is not None:
            cluster.stop()


# --- ingest --------------------------------------------------------------------------------------------------
def ingest(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """One run of bench/ingest_http.py's server target against ``target``."""
    options = argparse.Namespace(
        clickhouse=target.base_url, cluster=target.cluster, workers=1, accounts=40, connections=args.connections,
        wrk_threads=1, batch=args.batch, warmup=args.warmup, seconds=args.ingest_seconds, drain_timeout=600.0,
        profile=None, gil=False)
    result = ingest_http.run_target("server", options)
    summary: dict[str, Any] = result.summary(args.batch)
    summary["target"] = target.name
    return summary


def ingest_rounds(targets: tuple[Target, Target], args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    for round_ in range(args.rounds):
        for target in targets if round_ % 2 == 0 else targets[::-1]:
            summary = ingest(target, args)
            summary["round"] = round_ + 1
            runs.append(summary)
            print(f"[ingest {target.name}, round {round_ + 1}] {summary['accepted_events_per_s']:,} events/s, "
                  f"p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms; Canary "
                  f"{summary['server_cpu_cores']} cores, ClickHouse {summary['clickhouse_server_cpu_cores']}, "
                  f"machine {summary['machine_cpu_cores']}; drained in {summary['drain_seconds']} s; "
                  f"stored {summary['check']['uniq_event_ids']:,} of {summary['check']['accepted_events_202']:,} "
                  f"answered (ok={summary['check']['ok']}, exact={summary['check']['exact']})", flush=True)
    return runs


# --- disk ----------------------------------------------------------------------------------------------------
def disk(target: Target, database: str) -> dict[str, Any]:
    """Rows and bytes of every table, summed over the servers holding rows, and the events' columns."""
    tables: dict[str, dict[str, float]] = {}
    columns: dict[str, dict[str, int]] = {}
    for base in target.servers:
        engine = ServerEngine(f"{base}/{database}")
        try:
            for table, rows, size, parts in engine.execute(
                    "SELECT table, sum(rows), sum(bytes_on_disk), count() FROM system.parts"
                    " WHERE database = currentDatabase() AND active GROUP BY table"):
                entry = tables.setdefault(str(table).removesuffix("_local"), {"rows": 0, "bytes": 0, "parts": 0})
                entry["rows"] += int(rows)
                entry["bytes"] += int(size)
                entry["parts"] += int(parts)
            for name, compressed, uncompressed in engine.execute(
                    "SELECT name, data_compressed_bytes, data_uncompressed_bytes FROM system.columns"
                    " WHERE database = currentDatabase() AND table IN ('events', 'events_local')"
                    " AND data_compressed_bytes > 0"):
                column = columns.setdefault(str(name), {"compressed": 0, "uncompressed": 0})
                column["compressed"] += int(compressed)
                column["uncompressed"] += int(uncompressed)
        finally:
            engine.close()
    for entry in tables.values():
        entry["bytes_per_row"] = round(entry["bytes"] / entry["rows"], 1) if entry["rows"] else 0
    events = tables.get("events", {"rows": 0})["rows"] or 1
    return {"tables": tables,
            "event_columns": {name: {**sizes, "compressed_bytes_per_event": round(sizes["compressed"] / events, 2)}
                              for name, sizes in sorted(columns.items(), key=lambda c: -c[1]["compressed"])}}


def peak_rss_mib(target: Target) -> list[int]:
    """The peak resident memory so far (VmHWM) of each ClickHouse server of ``target``, MiB."""
    peaks = []
    for pid in ingest_http.clickhouse_pids(target.base_url, target.cluster):
        status = Path(f"/proc/{pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        peaks.append(int(line.split()[1]) // 1024)
    return peaks


# --- queries -------------------------------------------------------------------------------------------------
READ_EVENTS = ("SelectedMarks", "SelectedParts")  # 18.16 counts no SelectedRows


def read_counters(target: Target) -> dict[str, int]:
    """The servers' cumulative counts of what SELECTs read from MergeTree tables (``system.events``), summed."""
    totals = dict.fromkeys(READ_EVENTS, 0)
    for base in target.servers:
        engine = ServerEngine(f"{base}/default")
        try:
            for event, value in engine.execute("SELECT event, value FROM system.events"):
                if event in totals:
                    totals[str(event)] += int(value)
        finally:
            engine.close()
    return totals


def read_by(target: Target, call: Callable[[], object]) -> dict[str, int]:
    """Granules (marks, of 8,192 rows at most) and parts one call of a query reads, over every server (nothing
    else queries them); from ``system.query_log``, the rows its statements read on each server (on a cluster
    the statement on the first server counts the rows of the shards it asked too) and the most memory one of
    them took on a server."""
    time.sleep(1.0)  # the log's times are whole seconds: nothing earlier falls in the second the call starts
    starts = {}
    for base in target.servers:
        engine = ServerEngine(f"{base}/default")
        try:
            starts[base] = int(engine.execute("SELECT toUInt32(now())")[0][0])
        finally:
            engine.close()
    before = read_counters(target)
    call()
    after = read_counters(target)
    read = {event: after[event] - before[event] for event in READ_EVENTS}
    read["read_rows"] = read["peak_memory"] = read["clickhouse_ms"] = 0
    for base in target.servers:
        engine = ServerEngine(f"{base}/default")
        try:
            engine.execute("SYSTEM FLUSH LOGS")
            rows, memory, ms = engine.execute(
                "SELECT sum(read_rows), max(memory_usage), sum(query_duration_ms) FROM system.query_log WHERE type = 2"
                f" AND event_date >= yesterday() AND toUInt32(event_time) >= {starts[base]}"
                " AND query NOT LIKE '%system.%' AND is_initial_query")[0]
        finally:
            engine.close()
        read["read_rows"] = max(read["read_rows"], int(rows))
        read["peak_memory"] = max(read["peak_memory"], int(memory))
        read["clickhouse_ms"] = max(read["clickhouse_ms"], int(ms))
    return read


def query_bench(target: Target, events: int, args: argparse.Namespace) -> dict[str, Any]:
    """A fresh database of ``events`` events (bench/queries.py's data set), every query timed; dropped after."""
    database = f"canary_bench_{uuid.uuid4().hex[:10]}"
    accounts = max(1, events // args.events_per_account)
    engine = target.engine(database)
    try:
        started = time.monotonic()
        queries.prepare(engine, events, accounts)
        loaded = time.monotonic() - started
        sizes = disk(target, database)
        people = queries.people(accounts, "")
        timings, reads = {}, {}
        for name, call in queries.selected(queries.cases(engine, people), args.only):
            timings[name] = round(queries.timed(call, args.runs), 1)
            reads[name] = read_by(target, call)
    finally:
        engine.close()
        ingest_http.drop_database(target.url(database), target.cluster)
    print(f"[queries {target.name}, {events:,} events, {accounts:,} accounts] loaded in {loaded:.1f} s; "
          f"events on disk {sizes['tables']['events']['bytes_per_row']} bytes each", flush=True)
    for name, ms in timings.items():
        print(f"    {name:32} {ms:10.1f} ms {reads[name]['SelectedMarks']:>8,} granules "
              f"{reads[name]['read_rows']:>12,} rows read {reads[name]['peak_memory'] / 2**20:>8.1f} MiB", flush=True)
    return {"target": target.name, "events": events, "accounts": accounts, "load_seconds": round(loaded, 1),
            "load_average": os.getloadavg(), "median_ms": timings, "read": reads, "disk": sizes,
            "clickhouse_peak_rss_mib": peak_rss_mib(target)}


def growth(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per target and query: how many times the time and the granules read of the largest data set are those of
    the smallest."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in {r["target"] for r in results}:
        runs = sorted((r for r in results if r["target"] == name), key=lambda r: r["events"])
        if len(runs) > 1:
            small, large = runs[0], runs[-1]
            out[name] = {q: {"time": round(large["median_ms"][q] / small["median_ms"][q], 2),
                             "granules_read": round(large["read"][q]["SelectedMarks"]
                                                    / max(1, small["read"][q]["SelectedMarks"]), 2)}
                         for q in large["median_ms"] if small["median_ms"].get(q)}
    return out


def print_table(results: list[dict[str, Any]]) -> None:
    """The query medians side by side: one column per target and size."""
    heads = [f"{r['target']}, {r['events'] / 1e6:g} M" for r in results]
    print(f"{'query (median ms)':32} " + " ".join(f"{h:>16}" for h in heads))
    for name in results[0]["median_ms"]:
        print(f"{name:32} " + " ".join(f"{r['median_ms'][name]:>16.1f}" for r in results))
    for what, key, scale in (("granules read", "SelectedMarks", 1), ("thousand rows read", "read_rows", 1000),
                             ("peak MiB of a statement", "peak_memory", 2**20),
                             ("ms inside ClickHouse", "clickhouse_ms", 1)):
        print(f"{'query (' + what + ')':32} " + " ".join(f"{h:>16}" for h in heads))
        for name in results[0]["read"]:
            print(f"{name:32} " + " ".join(f"{r['read'][name][key] / scale:>16,.0f}" for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, action="append", help="query data set sizes (default 500k and 2M)")
    parser.add_argument("--events-per-account", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", action="append", default=[], help="run the queries whose name contains this")
    parser.add_argument("--ingest-seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="ingest runs per target, alternating the order")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="write the results here too")
    args = parser.parse_args()
    sizes = args.events or [500_000, 2_000_000]
    if shutil.which("wrk") is None and not args.skip_ingest:
        parser.error("wrk not found: apt-get install -y wrk (or --skip-ingest)")
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv), flush=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()}", flush=True)
    report: dict[str, Any] = {"args": vars(args), "cores": os.cpu_count()}
    scratch = Path(tempfile.mkdtemp(prefix="canary-bench-cluster-"))
    try:
        with servers(scratch) as targets:
            if not args.skip_ingest:
                report["ingest"] = ingest_rounds(targets, args)
            if not args.skip_queries:
                results = [query_bench(target, events, args) for events in sizes for target in targets]
                report["queries"] = results
                report["growth"] = growth(results)
                print_table(results)
                print(json.dumps({"growth, largest / smallest": report["growth"]}, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
