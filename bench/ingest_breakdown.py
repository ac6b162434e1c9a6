"""CPU cost of each part of POST /v1/events, measured in this process without HTTP.

    python bench/ingest_breakdown.py [--batch 100] [--iterations 300]
                                     [--clickhouse clickhouse+native://default@127.0.0.1:19000]

Builds the provider's context on a fresh SQLite accounts database (a first-party client_credentials client, 40
accounts in two organizations, a real access token), a request body like bench/ingest_http.lua's, and times every
step of the handler with the thread's CPU clock (``time.thread_time``), so that other load on the machine hardly
changes the figures: the token check, JSON decoding, validation, the look-up, authorisation, the encoding, the
spool append (its fsync is waited for, not counted, nor is the committer thread's CPU) and the whole ``ingest``
coroutine; then the writer's insert of 5,000-row chunks into chDB and into the ClickHouse server (this process's
CPU, and the server's own CPU from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics import migrations  # noqa: E402
from analytics.api import Analytics, parse_body  # noqa: E402
from analytics.clickhouse import ClickHouse, EmbeddedEngine, ServerEngine  # noqa: E402
from analytics.ingest.body import loads  # noqa: E402
from analytics.ingest.validate import validate  # noqa: E402
from idp.accounts.service import add_member, create_organization, create_user  # noqa: E402
from idp.app import build_context  # noqa: E402
from idp.cli.serve import prepare  # noqa: E402
from idp.db import transaction, utcnow  # noqa: E402
from idp.migrate import migrate_sql  # noqa: E402
from idp.oauth.clients import create_client  # noqa: E402
from idp.settings import Settings  # noqa: E402
from idp.web.events import SCOPE, ingest  # noqa: E402


def body(accounts: list[str], batch: int, seq: int) -> bytes:
    events = [
        {"event_id": str(uuid.uuid4()), "account": accounts[(seq * batch + i) % len(accounts)],
         "name": "report.viewed", "properties": {"path": f"/reports/{i}", "ms": (seq * batch + i) % 997}}
        for i in range(batch)
    ]
    return json.dumps({"batch": events}, separators=(",", ":")).encode()


def cpu_us(step: Callable[[int], Any], iterations: int, rounds: int = 5) -> float:
    """CPU microseconds of this thread per call of ``step(i)``: the lowest mean of ``rounds`` rounds (the
    others are the same work disturbed by other load)."""
    step(0)
    per_round = max(1, iterations // rounds)
    best = float("inf")
    for r in range(rounds):
        started = time.thread_time()
        for i in range(r * per_round, (r + 1) * per_round):
            step(i)
        best = min(best, (time.thread_time() - started) / per_round)
    return best * 1e6


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def clickhouse_pid(port: int) -> int | None:
    """The clickhouse-server listening on ``port`` (by its config's tcp_port), if it is this machine's."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if not cmdline or not cmdline[0].endswith(b"clickhouse-server"):
                continue
            config = next((a.split(b"=", 1)[1] for a in cmdline if a.startswith(b"--config-file=")), None)
            if config is None:
                continue
            extra = Path(config.decode()).parent / "config.d" / "canary.xml"
            if extra.exists() and f"<tcp_port>{port}</tcp_port>" in extra.read_text():
                return int(entry.name)
    return None


def writer_cost(engine: ClickHouse, accounts: list[str], rows: int, inserts: int,
                server_pid: int | None) -> dict[str, float]:
    migrations.migrate(engine)
    now = utcnow().replace(microsecond=0)
    chunks = []
    for n in range(inserts + 1):
        chunk = []
        for b in range(rows // 100):
            posted = parse_body(body(accounts, 100, n * rows + b), default_account=None, client_id="bench",
                                now=now, retention_days=400)
            chunk.append(posted.encode())
        chunks.append(chunk)
    engine.insert_encoded(chunks[0])
    server0 = process_cpu(server_pid) if server_pid else 0.0
    started, wall0 = time.thread_time(), time.perf_counter()
    for chunk in chunks[1:]:
        engine.insert_encoded(chunk)
    cpu = time.thread_time() - started
    wall = time.perf_counter() - wall0
    total = rows * inserts
    result = {"client_cpu_us_per_row": cpu / total * 1e6, "wall_rows_per_s": total / wall}
    if server_pid:
        result["server_cpu_us_per_row"] = (process_cpu(server_pid) - server0) / total * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--clickhouse", default="clickhouse+native://default@127.0.0.1:19000")
    parser.add_argument("--writer-inserts", type=int, default=10)
    args = parser.parse_args()
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="canary-breakdown-"))
    try:
        settings = Settings(issuer="http://127.0.0.1:8000", data_dir=tmp)
        migrate_sql(settings)
        prepare(settings)
        analytics = Analytics.open(url=None, data_dir=tmp / "analytics")
        c = build_context(settings, analytics)
        with transaction(c.factory) as db:
            client, _ = create_client(db, name="bench", grant_types=["client_credentials"], scope=SCOPE,
                                      first_party=True)
            orgs = [create_organization(db, slug=slug) for slug in ("bench-north", "bench-south")]
            accounts = []
            for i in range(40):
                user = create_user(db, email=f"b{i}@example.com", password=None)
                add_member(db, user, orgs[i % 2])
                accounts.append(user.id)
            token, _ = c.tokens.access_token(client=client, subject=client.client_id, scope=SCOPE)
        claims = c.access.verify(token, SCOPE)
        bodies = [body(accounts, args.batch, n) for n in range(args.iterations + 1)]
        payloads = [loads(b)[0] for b in bodies]
        now = utcnow()

        def parse(i: int) -> Any:
            return validate(payloads[i], default_account=None, client_id=claims["client_id"], now=now,
                            retention_days=400, orjson_payload=True)

        parsed = [parse(i) for i in range(len(bodies))]
        looked_up = [c.access.posting(claims, list(dict.fromkeys(p.accounts))) for p in parsed]
        organizations = [looked_up[i].resolve(p.accounts, p.organizations)[1] for i, p in enumerate(parsed)]
        encoded = [p.encode(organizations[i]) for i, p in enumerate(parsed)]
        gc.freeze()  # as canary serve does after start-up
        loop = asyncio.new_event_loop()
        results: dict[str, float] = {
            "token: signature check (cache miss)": cpu_us(lambda i: c.tokens.decode(token), args.iterations),
            "token: cached claims": cpu_us(lambda i: c.access.claims(token, SCOPE), args.iterations),
            "access.verify (JWT + token state)": cpu_us(lambda i: c.access.verify(token, SCOPE), args.iterations),
            "json.loads of the body (stdlib)": cpu_us(lambda i: json.loads(bodies[i]), args.iterations),
            "orjson decoding of the body": cpu_us(lambda i: loads(bodies[i]), args.iterations),
            "validation to columns": cpu_us(parse, args.iterations),
            "SQL: token state + memberships": cpu_us(
                lambda i: c.access.posting(claims, list(dict.fromkeys(parsed[i].accounts))), args.iterations),
            "authorise (accounts, organizations)": cpu_us(
                lambda i: looked_up[i].resolve(parsed[i].accounts, parsed[i].organizations),
                args.iterations),
            "encode (Native columns)": cpu_us(lambda i: parsed[i].encode(organizations[i]), args.iterations),
            "spool append, alone (fsync not counted)": cpu_us(
                lambda i: loop.run_until_complete(analytics.spool.append_encoded_async(encoded[i], args.batch)),
                args.iterations),
            "ingest() whole: decode..append + response": cpu_us(
                lambda i: loop.run_until_complete(ingest(c, claims, bodies[i])), args.iterations),
        }
        for label, us in results.items():
            print(f"{label:48s} {us:9.1f} µs per request  {us / args.batch:7.2f} µs per event")
        loop.close()
        analytics.close()

        for name, make in (
            ("chdb", lambda: EmbeddedEngine(tmp / "chdb")),
            ("server", lambda: ServerEngine(
                f"{args.clickhouse.rstrip('/')}/canary_breakdown_{random.randrange(1 << 30)}")),
        ):
            engine = make()
            pid = None
            if isinstance(engine, ServerEngine):
                pid = clickhouse_pid(int(args.clickhouse.rsplit(":", 1)[1].split("/")[0]))
            try:
                cost = writer_cost(engine, accounts, 5000, args.writer_inserts, pid)
            finally:
                if isinstance(engine, ServerEngine):
                    engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
                engine.close()
            print(f"writer insert into {name:6s}: " + ", ".join(f"{k} {v:,.2f}" for k, v in cost.items()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
