"""End-to-end ingest benchmark: wrk POSTing event batches to `canary serve`, then the spool drained to ClickHouse.

    python bench/ingest_http.py [--target both|server|chdb] [--seconds 20] [--warmup 5] [--connections 16]
                                [--batch 100] [--wrk-threads 1] [--workers 1]
                                [--clickhouse clickhouse+native://default@127.0.0.1:19000]
                                [--raw SECONDS] [--profile PREFIX] [--json FILE]

For each target `canary serve` runs as a subprocess with a fresh CANARY_DATA_DIR (SQLite accounts): once with
CANARY_ANALYTICS_URL naming a fresh database on the ClickHouse server (``server``), once with the embedded chDB
default (``chdb``). A first-party client_credentials client with the events:write scope is registered with
`canary clients create` and a token fetched from /token; accounts are users in two organizations. wrk
(``apt-get install -y wrk``; script bench/ingest_http.lua) then posts ``{"batch": [BATCH events]}`` on
CONNECTIONS connections, first for the warm-up, then for the measured run. Every event id is unique.

Reported: accepted events/s (202 answers of the measured run), p50/p99 request latency, errors, the server's
CPU use (and events per server CPU-second, which other load on the machine disturbs less), the ClickHouse
server's CPU use when it runs on this machine (found by its port); then the time until
the spool is empty and a check of ClickHouse against what was answered 202: ``uniqExact(event_id)`` of the
posted events, counted per request so that a batch is either whole or absent.
Requests still in flight when wrk stops got no answer; the server may have accepted them, so they are
reported and allowed for. ``--raw`` also runs bench/ingest_raw.py (clickhouse-driver inserts of the same rows)
for the ratio, ``--profile`` records the server with py-spy during the measured run.

Databases made here are named canary_bench_<random> and dropped afterwards; everything is on 127.0.0.1 and
every load run stops by itself.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VENV_BIN = Path(sys.executable).parent
CANARY = str(VENV_BIN / "canary") if (VENV_BIN / "canary").exists() else shutil.which("canary") or "canary"
LUA = ROOT / "bench" / "ingest_http.lua"
ORGANIZATIONS = ("bench-north", "bench-south")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process and its live descendants (uvicorn workers)."""
    parents: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
                times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(parents.get(current, []))
    return total


def clickhouse_pid(url: str) -> int | None:
    """The clickhouse-server process serving ``url``'s port on this machine (config.d/canary.xml names it)."""
    return clickhouse_pid_on(int(url.rsplit(':', 1)[1].split('/')[0]))


def clickhouse_pid_on(tcp_port: int) -> int | None:
    """The clickhouse-server process listening on ``tcp_port`` on this machine."""
    port = f"<tcp_port>{tcp_port}</tcp_port>"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                config = next((a[len(b"--config-file="):] for a in argv if a.startswith(b"--config-file=")), None)
                if argv[0].endswith(b"clickhouse-server") and config:
                    extra = Path(config.decode()).parent / "config.d" / "canary.xml"
                    if extra.exists() and port in extra.read_text():
                        return int(entry.name)
    return None


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used so far (idle and iowait excluded)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def clickhouse_pids(url: str, cluster: str | None = None) -> list[int]:
    """The clickhouse-server processes on this machine behind ``url``: its own, and with ``cluster`` those of
    every host the cluster names (``system.clusters``)."""
    ports = {int(url.rsplit(":", 1)[1].split("/")[0])}
    if cluster:
        from analytics.clickhouse import ServerEngine

        admin = ServerEngine(f"{url.rstrip('/')}/default")
        try:
            rows = admin.execute(f"SELECT port FROM system.clusters WHERE cluster = '{cluster}'")
            ports |= {int(row[0]) for row in rows}
        finally:
            admin.close()
    return [pid for pid in map(clickhouse_pid_on, sorted(ports)) if pid is not None]


# --- the server --------------------------------------------------------------------------------------------
@dataclass
class Server:
    target: str
    url: str
    env: dict[str, str]
    data_dir: Path
    analytics_url: str | None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run([CANARY, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"canary {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def stop(self, timeout: float = 60.0) -> None:
        """SIGINT (uvicorn shuts down, the writer makes a last drain), SIGKILL if it does not exit in time."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def canary_server(target: str, clickhouse: str, workers: int = 1, cluster: str | None = None) -> Iterator[Server]:
    """``canary serve`` on a fresh data directory; for the ``server`` target on a fresh database of
    ``clickhouse`` (of every server of ``cluster``, CANARY_ANALYTICS_CLUSTER, when given)."""
    data_dir = Path(tempfile.mkdtemp(prefix="canary-bench-ingest-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    env.update({
        "CANARY_DATA_DIR": str(data_dir),
        "CANARY_ISSUER": f"http://127.0.0.1:{port}",
        "CANARY_HOST": "127.0.0.1",
        "CANARY_PORT": str(port),
        "CANARY_LOG_LEVEL": "warning",
        "CANARY_ALERT_INTERVAL": "3600",
        "CANARY_WORKERS": str(workers),
    })
    analytics_url = None
    if target == "server":
        analytics_url = f"{clickhouse.rstrip('/')}/canary_bench_{uuid.uuid4().hex[:10]}"
        env["CANARY_ANALYTICS_URL"] = analytics_url
        if cluster:
            env["CANARY_ANALYTICS_CLUSTER"] = cluster
    server = Server(target, f"http://127.0.0.1:{port}", env, data_dir, analytics_url,
                    log_path=data_dir / "server.log")
    assert server.log_path is not None
    log = server.log_path.open("wb")
    try:
        server.proc = subprocess.Popen([CANARY, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if server.proc.poll() is not None:
                raise RuntimeError(f"canary serve exited: {server.log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("canary serve did not answer /healthz within 90 s")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
        log.close()
        if analytics_url is not None:
            drop_database(analytics_url, cluster)
        shutil.rmtree(data_dir, ignore_errors=True)


def drop_database(url: str, cluster: str | None = None) -> None:
    from analytics.clickhouse import ServerEngine

    base, _, name = url.rpartition("/")
    admin = ServerEngine(f"{base}/default")
    try:
        admin.execute(f"DROP DATABASE IF EXISTS `{name}`" + (f" ON CLUSTER {cluster}" if cluster else ""))
    finally:
        admin.close()


# Run with the server's environment and code (PYTHONPATH may point at another checkout of Canary).
_CREATE_ACCOUNTS = """
import json, sys
from idp.accounts.service import add_member, create_organization, create_user
from idp.db import make_engine, make_session_factory, transaction
from idp.settings import Settings

count, slugs = int(sys.argv[1]), sys.argv[2:]
engine = make_engine(Settings.from_env().database_url)
with transaction(make_session_factory(engine)) as db:
    orgs = [create_organization(db, slug=slug) for slug in slugs]
    ids = []
    for i in range(count):
        user = create_user(db, email=f"ingest-{i}@example.com", password=None, name="Bench User")
        add_member(db, user, orgs[i % len(orgs)])
        ids.append(user.id)
engine.dispose()
print(json.dumps(ids))
"""


def create_accounts(server: Server, count: int) -> list[str]:
    """``count`` users without passwords, split over two organizations (written straight to SQLite)."""
    out = subprocess.run([sys.executable, "-c", _CREATE_ACCOUNTS, str(count), *ORGANIZATIONS], env=server.env,
                         cwd=server.data_dir, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"creating accounts failed: {out.stderr.strip()}")
    ids: list[str] = json.loads(out.stdout)
    return ids


def client_token(server: Server) -> str:
    client = json.loads(server.cli("clients", "create", "ingest bench", "--grant-type", "client_credentials",
                                   "--scope", "events:write", "--first-party", "--json"))
    response = httpx.post(f"{server.url}/token", data={"grant_type": "client_credentials"},
                          auth=(client["client_id"], client["client_secret"]), timeout=30)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


# --- load --------------------------------------------------------------------------------------------------
@dataclass
class WrkRun:
    run: int
    duration: float
    requests: int
    sent: int
    socket_errors: dict[str, int]
    statuses: dict[int, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    server_cpu: float = 0.0
    clickhouse_cpu: float = 0.0
    machine_cpu: float = 0.0
    wrk_cpu: float = 0.0

    @property
    def accepted_requests(self) -> int:
        return self.statuses.get(202, 0)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def unanswered(self) -> int:
        """Requests sent but not answered when wrk stopped (or lost to a socket error)."""
        return max(0, self.sent - self.answered)

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values()) + self.answered - self.accepted_requests


def run_wrk(url: str, token: str, accounts: list[str], *, run: int, seconds: float, connections: int,
            threads: int, batch: int) -> WrkRun:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout=10s",
               "-s", str(LUA), f"{url}/v1/events", "--", token, str(batch), ",".join(accounts), str(run)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("WRKJSON "):])
    return WrkRun(
        run=run, duration=data["duration_us"] / 1e6, requests=data["requests"], sent=data["sent"],
        socket_errors={k: data[k] for k in ("connect", "read", "write", "timeout")},
        statuses={int(k): v for k, v in data["statuses"].items()},
        p50_ms=data["p50"] / 1000, p90_ms=data["p90"] / 1000, p99_ms=data["p99"] / 1000,
        mean_ms=data["mean"] / 1000, max_ms=data["max"] / 1000,
        wrk_cpu=after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
    )


def spool_rows(path: Path) -> int:
    """Events still in the server's spool (read-only; SQLite WAL readers do not block the writer)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT COALESCE(SUM(rows), 0) FROM batches").fetchone()[0])
    finally:
        db.close()


def wait_drained(path: Path, timeout: float) -> float:
    started = time.perf_counter()
    while spool_rows(path) > 0:
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"the spool was not drained within {timeout} s")
        time.sleep(0.05)
    return time.perf_counter() - started


# Requests are told apart by the wrk thread, run and request counter in the event id (see ingest_http.lua).
STORED_SQL = """
SELECT count() AS requests, min(n) AS smallest, max(n) AS largest, sum(n) AS events
FROM (SELECT concat(substring(toString(event_id), 10, 9), substring(toString(event_id), 25, 12)) AS request,
             uniqExact(event_id) AS n
      FROM events WHERE source = 'api' GROUP BY request)
"""


def stored(server: Server) -> dict[str, int]:
    """Posted events in ClickHouse: distinct ids, requests they came from, smallest and largest batch."""
    from analytics.clickhouse import ClickHouse, ClickHouseError, EmbeddedEngine, ServerEngine

    engine: ClickHouse
    if server.analytics_url is not None:
        engine = ServerEngine(server.analytics_url)
    else:
        server.stop()  # chDB: one process at a time may open the data directory
        engine = EmbeddedEngine(server.data_dir / "clickhouse")
    try:
        for attempt in range(3):
            try:
                row = engine.execute(STORED_SQL).dicts()[0]
                rows = engine.execute("SELECT uniqExact(event_id) AS ids, count() AS rows FROM events "
                                      "WHERE source = 'api'").dicts()[0]
                break
            except ClickHouseError as exc:
                if attempt == 2:
                    raise
                print(f"counting in ClickHouse failed ({exc}); retrying", flush=True)
    finally:
        engine.close()
    return {"requests": int(row["requests"]), "smallest_batch": int(row["smallest"] or 0),
            "largest_batch": int(row["largest"] or 0), "uniq_event_ids": int(rows["ids"]),
            "rows": int(rows["rows"])}


# --- profiling ---------------------------------------------------------------------------------------------
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("post_events (whole handler)", ("post_events (idp/web/events.py",)),
    ("  token: signature (cached claims)", ("claims (idp/oauth/resource_access/service.py",)),
    ("  read_body", ("read_body (idp/oauth/server.py",)),
    ("  batch decoder (msgspec, checks, columns)", ("decode_batch (analytics/ingest/fast.py",)),
    ("    properties checks", ("_properties (analytics/ingest/fast.py",)),
    ("  full validator (bodies the decoder declines)", ("validate_body (analytics/ingest/body.py",)),
    ("  look-up: token state + memberships (SQL)", ("_look_up (idp/oauth/resource_access/service.py",)),
    ("  authorise (accounts, organizations)", ("resolve (idp/oauth/resource_access/posting.py",)),
    ("  encode (Native columns)", ("encode (analytics/ingest/posted.py",)),
    ("  spool append (enqueue, await commit)", ("append_encoded_async (analytics/spool.py",)),
    ("spool committer (insert + fsync)", ("_commit_loop (analytics/spool.py",)),
    ("writer (drain_once)", ("drain_once (analytics/writer.py",)),
    ("  spool read", ("read (analytics/spool.py",)),
    ("  insert_encoded", ("insert_encoded (analytics/clickhouse/",)),
    ("    combine (join Native columns)", ("combine (analytics/ingest/blocks.py",)),
    ("  spool ack (delete)", ("ack (analytics/spool.py",)),
    ("  spool checkpoint", ("checkpoint (analytics/spool.py",)),
    ("uvicorn/httptools protocol", ("uvicorn/protocols",)),
    ("starlette routing/middleware", ("starlette/",)),
    ("SQLAlchemy (anywhere)", ("sqlalchemy/",)),
)


@contextlib.contextmanager
def profiled(prefix: str | None, pid: int, seconds: float, gil: bool, subprocesses: bool) -> Iterator[Path | None]:
    if not prefix:
        yield None
        return
    out = Path(f"{prefix}{'-gil' if gil else ''}.txt")
    cmd = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--rate", "200", "--nonblocking",
           "--duration", str(int(seconds)), "--format", "raw", "-o", str(out)]
    if gil:
        cmd.append("--gil")
    if subprocesses:
        cmd.append("--subprocesses")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield out
    finally:
        try:
            proc.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)


def summarize_profile(path: Path) -> dict[str, Any]:
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(c for _, c in stacks) or 1
    categories = {}
    for label, needles in CATEGORIES:
        n = sum(c for frames, c in stacks if any(any(s in f for s in needles) for f in frames))
        categories[label] = round(100 * n / total, 1)
    leaf: collections.Counter[str] = collections.Counter()
    for frames, c in stacks:
        leaf[frames[-1]] += c
    return {"samples": total, "inclusive_pct": categories,
            "top_self_pct": {f: round(100 * c / total, 1) for f, c in leaf.most_common(15)}}


# --- raw inserts -------------------------------------------------------------------------------------------
def raw_inserts(clickhouse: str, seconds: float) -> float:
    url = f"{clickhouse.rstrip('/')}/canary_bench_{uuid.uuid4().hex[:10]}"
    try:
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest_raw.py"), "--url", url, "--seconds",
                              str(seconds)], capture_output=True, text=True, timeout=seconds + 120)
    finally:
        drop_database(url)
    print(out.stdout.strip(), flush=True)
    match = re.search(r"\[server raw, clickhouse-driver[^\]]*\][^\n]*?([\d,]+) rows/s", out.stdout)
    if match is None:
        raise RuntimeError(f"bench/ingest_raw.py failed:\n{out.stdout}\n{out.stderr}")
    return float(match.group(1).replace(",", ""))


# --- one target --------------------------------------------------------------------------------------------
@dataclass
class Result:
    target: str
    measured: WrkRun
    warmup: WrkRun
    backlog_at_stop: int
    drain_seconds: float
    check: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)

    def summary(self, batch: int) -> dict[str, Any]:
        m = self.measured
        return {
            "target": self.target,
            "accepted_events_per_s": round(m.accepted_requests * batch / m.duration),
            "requests_per_s": round(m.answered / m.duration, 1),
            "p50_ms": m.p50_ms, "p90_ms": m.p90_ms, "p99_ms": m.p99_ms, "max_ms": m.max_ms,
            "errors": m.errors, "statuses": m.statuses, "socket_errors": m.socket_errors,
            "duration_s": round(m.duration, 2),
            "server_cpu_cores": round(m.server_cpu / m.duration, 2),
            # Robust to other load on the machine: what one CPU-second of the server process accepts.
            "events_per_server_cpu_s": round(m.accepted_requests * batch / m.server_cpu) if m.server_cpu else 0,
            "clickhouse_server_cpu_cores": round(m.clickhouse_cpu / m.duration, 2),
            "machine_cpu_cores": round(m.machine_cpu / m.duration, 2),
            "wrk_cpu_cores": round(m.wrk_cpu / m.duration, 2),
            "backlog_at_stop_events": self.backlog_at_stop,
            "drain_seconds": round(self.drain_seconds, 2),
            "check": self.check,
            "profile": self.profile,
        }


def run_target(target: str, args: argparse.Namespace) -> Result:
    cluster = args.cluster if target == "server" else None
    with canary_server(target, args.clickhouse, args.workers if target == "server" else 1, cluster) as server:
        assert server.proc is not None
        accounts = create_accounts(server, args.accounts)
        token = client_token(server)
        common = {"connections": args.connections, "threads": args.wrk_threads, "batch": args.batch}
        warmup = run_wrk(server.url, token, accounts, run=1, seconds=args.warmup, **common)
        wait_drained(server.data_dir / "spool.sqlite3", 600)
        pid = server.proc.pid
        clickhouse = clickhouse_pids(args.clickhouse, cluster) if target == "server" else []
        cpu0, busy0 = cpu_seconds(pid), machine_busy_seconds()
        clickhouse0 = sum(map(cpu_seconds, clickhouse))
        with profiled(args.profile and f"{args.profile}-{target}", pid, args.seconds - 1, args.gil,
                      args.workers > 1) as profile:
            measured = run_wrk(server.url, token, accounts, run=2, seconds=args.seconds, **common)
        measured.server_cpu = cpu_seconds(pid) - cpu0
        measured.clickhouse_cpu = sum(map(cpu_seconds, clickhouse)) - clickhouse0
        measured.machine_cpu = machine_busy_seconds() - busy0
        spool = server.data_dir / "spool.sqlite3"
        backlog = spool_rows(spool)
        drain = wait_drained(spool, args.drain_timeout)
        result = Result(target, measured, warmup, backlog, drain)
        found = stored(server)
        accepted = warmup.accepted_requests + measured.accepted_requests
        # Requests unanswered when wrk stopped may or may not have been accepted: stored requests must lie
        # between the 202s and the 202s plus those, and every stored request must be a whole batch.
        unanswered = warmup.unanswered + measured.unanswered
        result.check = {
            **found,
            "accepted_requests_202": accepted,
            "accepted_events_202": accepted * args.batch,
            "unanswered_requests": unanswered,
            "ok": (found["smallest_batch"] == found["largest_batch"] == args.batch
                   and accepted <= found["requests"] <= accepted + unanswered
                   and found["uniq_event_ids"] == found["requests"] * args.batch),
            "exact": found["uniq_event_ids"] == accepted * args.batch,
        }
        if profile is not None and profile.exists():
            result.profile = summarize_profile(profile)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["both", "server", "chdb"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1,
                        help="CANARY_WORKERS for the server target (chDB is single-process)")
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--clickhouse", default="clickhouse+native://default@127.0.0.1:19000",
                        help="ClickHouse server, without a database (one is made per run and dropped)")
    parser.add_argument("--cluster", help="CANARY_ANALYTICS_CLUSTER for the server target (bench/cluster.py)")
    parser.add_argument("--raw", type=float, default=0.0, metavar="SECONDS",
                        help="also run bench/ingest_raw.py for this long against the server")
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy raw stacks to PREFIX-<target>.txt")
    parser.add_argument("--gil", action="store_true", help="profile only the thread holding the GIL")
    parser.add_argument("--json", metavar="FILE", help="write the results here too")
    args = parser.parse_args()
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be 1 to 1000")
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv), flush=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; server code from "
          f"{os.environ.get('PYTHONPATH') or 'the installed canary'}", flush=True)
    results = []
    for target in (["server", "chdb"] if args.target == "both" else [args.target]):
        result = run_target(target, args)
        summary = result.summary(args.batch)
        results.append(summary)
        m = result.measured
        print(
            f"[{target}] {summary['accepted_events_per_s']:,} events/s accepted "
            f"({summary['requests_per_s']:,} req/s of {args.batch}), p50 {m.p50_ms:.1f} ms, p99 {m.p99_ms:.1f} ms, "
            f"max {m.max_ms:.0f} ms, errors {m.errors} {m.statuses} {m.socket_errors}; server CPU "
            f"{summary['server_cpu_cores']} cores ({summary['events_per_server_cpu_s']:,} events per CPU-s), "
            f"ClickHouse server {summary['clickhouse_server_cpu_cores']}, wrk {summary['wrk_cpu_cores']}, "
            f"machine {summary['machine_cpu_cores']} of {os.cpu_count()}; "
            f"spool backlog at stop {result.backlog_at_stop} events, drained in {result.drain_seconds:.1f} s; "
            f"ClickHouse {result.check['uniq_event_ids']} ids vs {result.check['accepted_events_202']} answered 202 "
            f"+ up to {result.check['unanswered_requests']} unanswered requests "
            f"(ok={result.check['ok']}, exact={result.check['exact']})",
            flush=True,
        )
        if result.profile:
            print(json.dumps(result.profile, indent=2), flush=True)
    report: dict[str, Any] = {"args": vars(args), "results": results}
    if args.raw:
        raw = raw_inserts(args.clickhouse, args.raw)
        report["raw_rows_per_s"] = raw
        for summary in results:
            ratio = summary["accepted_events_per_s"] / raw
            summary["fraction_of_raw"] = round(ratio, 3)
            print(f"[{summary['target']}] HTTP ingest is {ratio:.1%} of raw clickhouse-driver inserts "
                  f"({raw:,.0f} rows/s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
