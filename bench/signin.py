"""Full password sign-ins per second, and what one argon2id verification costs on this machine.

Each iteration is what a browser and a relying party do for a user who is signed out:
GET /authorize (PKCE S256, a first-party confidential client, so no consent page) → POST /login with the
CSRF token and the credentials → 303 with the code → POST /token (code exchange, Basic auth, code_verifier).
Cookies are not kept between iterations, so every sign-in checks a password.

``--concurrency`` asyncio workers (httpx; the load is a few hundred requests per second at most, so a Python
client is enough) sign in back to back for ``--duration`` seconds after ``--warmup``; every worker uses its
own user. Runs against `canary serve` on a free 127.0.0.1 port with a fresh data directory.

Examples
  .venv/bin/python bench/signin.py
  .venv/bin/python bench/signin.py --concurrency 8 --duration 20
  .venv/bin/python bench/signin.py --server-workers 2 --database postgres \
      --analytics-url clickhouse+native://default@127.0.0.1:19000/canary_bench
  .venv/bin/python bench/signin.py --argon2-only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import common  # the sibling module; a script's own directory is first on sys.path
import httpx

# (label, frame substrings): inclusive shares of the server's samples, idle threads excluded.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("argon2id verify (verify_password)", ("verify_password (idp/accounts/passwords.py",)),
    ("  of which argon2 rehash check", ("needs_rehash (idp/accounts/passwords.py",)),
    ("JWT signing (joserfc jwt.encode)", ("encode (joserfc/jwt.py",)),
    ("SQLAlchemy (all)", ("sqlalchemy/",)),
    ("login page render (Jinja2 TemplateResponse)", ("TemplateResponse (starlette/templating.py",)),
    ("event recording (idp/activity.py)", ("idp/activity.py",)),
    ("GET /authorize (authorize_sync)", ("authorize_sync (idp/web/authorize.py",)),
    ("POST /login (login_sync)", ("login_sync (idp/web/authorize.py",)),
    ("POST /token (CanaryAuthorizationServer._run)", ("_run (idp/oauth/server.py",)),
    ("uvicorn HTTP protocol", ("uvicorn/protocols/http/",)),
]


def argon2_cost(calls: int = 30) -> dict[str, Any]:
    """Time of idp.accounts.passwords.verify_password (argon2id, the provider's parameters), in this process."""
    from idp.accounts.passwords import _hasher, hash_password, verify_password

    stored = hash_password(common.PASSWORD)
    verify_password(stored, common.PASSWORD)
    times, cpu = [], []
    for _ in range(calls):
        t0, c0 = time.perf_counter(), time.process_time()
        assert verify_password(stored, common.PASSWORD)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)

    def parallel(threads: int, per_thread: int) -> float:
        def work() -> None:
            for _ in range(per_thread):
                verify_password(stored, common.PASSWORD)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        t0 = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return threads * per_thread / (time.perf_counter() - t0)

    ms = sorted(t * 1000 for t in times)
    n = os.cpu_count() or 1
    return {
        "parameters": {"type": "argon2id", "memory_kib": _hasher.memory_cost, "time_cost": _hasher.time_cost,
                       "parallelism": _hasher.parallelism},
        "verify_ms_median": round(statistics.median(ms), 1),
        "verify_cpu_ms_median": round(statistics.median(cpu) * 1000, 1),
        "verify_ms_min": round(ms[0], 1),
        "verify_ms_p90": round(common.percentile(ms, 90), 1),
        "verifies_per_s_1_thread": round(1000 / statistics.median(ms), 1),
        f"verifies_per_s_{n}_threads": round(parallel(n, max(4, calls // 2)), 1),
    }


async def sign_in_load(url: str, client: dict[str, Any], emails: list[str], *, duration: float, warmup: float
                       ) -> dict[str, Any]:
    totals: list[float] = []
    steps: list[list[float]] = [[], [], []]
    errors = 0
    first_error = ""
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    async def worker(email: str) -> None:
        nonlocal errors, first_error
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            while (t0 := time.perf_counter()) < stop_at:
                try:
                    _, times = await common.password_sign_in(http, client["client_id"], client["client_secret"],
                                                             email, common.PASSWORD)
                    ok = True
                except (httpx.HTTPError, RuntimeError, KeyError) as exc:
                    ok, times = False, []
                    first_error = first_error or repr(exc)
                if t0 >= measure_from:
                    totals.append(time.perf_counter() - t0)
                    if ok:
                        for i, t in enumerate(times):
                            steps[i].append(t)
                    else:
                        errors += 1

    await asyncio.gather(*(worker(e) for e in emails))
    elapsed = time.perf_counter() - measure_from

    def summary(values: list[float]) -> dict[str, float]:
        ms = sorted(v * 1000 for v in values)
        return {"p50_ms": round(common.percentile(ms, 50), 1), "p99_ms": round(common.percentile(ms, 99), 1),
                "mean_ms": round(statistics.fmean(ms), 1) if ms else 0.0}

    ok = len(totals) - errors
    return {"duration_s": round(elapsed, 2), "sign_ins": ok, "errors": errors, "first_error": first_error,
            "sign_ins_per_s": round(ok / elapsed, 2), "sign_in": summary(totals),
            "steps": {"GET /authorize": summary(steps[0]), "POST /login": summary(steps[1]),
                      "POST /token (code)": summary(steps[2])}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--concurrency", type=int, default=8, help="concurrent sign-ins (one user each)")
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--server-workers", type=int, default=1, help="uvicorn workers")
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--pg-admin-url", default=common.PG_ADMIN_URL)
    p.add_argument("--analytics-url", default=os.environ.get("CANARY_ANALYTICS_URL", ""))
    p.add_argument("--no-events", action="store_true", help="serve the app with analytics=None")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before measuring wait up to SECONDS for the machine to be idle (shared machines)")
    p.add_argument("--argon2-only", action="store_true", help="only time argon2id verification")
    p.add_argument("--profile", metavar="PREFIX", help="record the server with py-spy to PREFIX.collapsed.txt")
    p.add_argument("--profile-gil", action="store_true", help="py-spy --gil: only samples holding the GIL")
    p.add_argument("--json-out")
    args = p.parse_args()
    common.exit_on_signals()

    report: dict[str, Any] = {"machine": common.machine()}
    if args.wait_quiet:
        common.wait_for_quiet(args.wait_quiet)
    report["argon2"] = argon2_cost()
    if not args.argon2_only:
        report.update(server_workers=args.server_workers, concurrency=args.concurrency, database=args.database,
                      events="off" if args.no_events else ("server" if args.analytics_url else "embedded chDB"))
        with contextlib.ExitStack() as stack:
            database_url = ""
            if args.database == "postgres":
                database_url = stack.enter_context(common.postgres_database(args.pg_admin_url))
            server = stack.enter_context(common.canary_server(
                workers=args.server_workers, database_url=database_url, analytics_url=args.analytics_url,
                events=not args.no_events))
            assert server.proc is not None
            client = server.create_client("bench web app", "--redirect-uri", common.REDIRECT_URI, "--first-party")
            emails = common.create_users(server, args.concurrency)
            if args.warmup:
                asyncio.run(sign_in_load(server.url, client, emails, duration=args.warmup, warmup=0))
            if args.wait_quiet:
                common.wait_for_quiet(args.wait_quiet)
            pids = server.server_pids()
            db_pids = common.pids_with_cmdline(f" {database_url.rsplit('/', 1)[1]} ") if database_url else []
            db0 = common.cpu_seconds(db_pids)
            cpu0 = common.cpu_seconds(pids)
            busy0 = common.machine_busy_seconds()
            self0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            with common.Profiler(args.profile, server.proc.pid, args.duration, args.profile_gil):
                result = asyncio.run(sign_in_load(server.url, client, emails, duration=args.duration, warmup=0))
            wall = time.perf_counter() - t0
            self1 = resource.getrusage(resource.RUSAGE_SELF)
            server_cpu = common.cpu_seconds(pids) - cpu0
            busy = common.machine_busy_seconds() - busy0
            db_cpu = common.cpu_seconds(db_pids) - db0
        gen = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
        cores = os.cpu_count() or 1
        result.update(
            server_cores=round(server_cpu / wall, 2), load_generator_cores=round(gen / wall, 2),
            other_processes_cores=round(max(0.0, busy - server_cpu - gen - db_cpu) / wall, 2),
            **({"postgres_backend_cores": round(db_cpu / wall, 2)} if db_pids else {}),
            sign_ins_per_s_per_core=round(result["sign_ins_per_s"] / cores, 2),
            server_cpu_ms_per_sign_in=round(1000 * server_cpu / max(1, result["sign_ins"] + result["errors"]), 1),
        )
        report["result"] = result
        if args.profile and Path(f"{args.profile}.collapsed.txt").exists():
            report["profile"] = common.summarize_profile(Path(f"{args.profile}.collapsed.txt"), CATEGORIES)
    print(json.dumps(report, indent=2))
    a = report["argon2"]
    print(f"\nargon2id verify: {a['verify_ms_median']} ms median wall, {a['verify_cpu_ms_median']} ms CPU "
          f"({a['verifies_per_s_1_thread']}/s on one thread)")
    if "result" in report:
        r = report["result"]
        print(f"sign-ins: {r['sign_ins_per_s']}/s ({r['sign_ins_per_s_per_core']}/s per core of {os.cpu_count()})  "
              f"p50 {r['sign_in']['p50_ms']} ms  p99 {r['sign_in']['p99_ms']} ms  errors {r['errors']}  "
              f"server CPU {r['server_cores']} cores (~{r['server_cpu_ms_per_sign_in']} ms per sign-in), "
              f"load generator {r['load_generator_cores']}, other processes {r['other_processes_cores']}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
