"""What the resource-server kit (clients/python, ``canary_resource``) adds to an API's requests.

Method:
1. Starts ``canary serve`` (``common.canary_server``: SQLite, embedded chDB, RS256 or ``--signing-alg``
   ES256), registers a first-party ``client_credentials`` client with ``events:write`` and takes an access token
   from ``/token``: the JWT the API's caller presents.
2. Builds one Starlette app with one route, ``GET /reports/{id}`` answering a small JSON object, twice: bare, and
   behind ``CanaryMiddleware(record_usage=True)`` (the token verified against that Canary's JWKS, each request
   queued as a usage event and posted to Canary by the event client's sender thread).
3. Added latency: both apps are called in-process as ASGI applications on one event loop, alternating rounds of
   1,000 calls each, ``--requests`` calls per app after a warm-up; each call is timed with ``perf_counter_ns``.
   The caller presents the same token each time, as a client does for its token's lifetime, so after the first
   request the signature check is a cache hit. The first verification of a token (its signature) is timed
   apart on ``--fresh-tokens`` new tokens. Added latency = p50(protected) - p50(bare).
4. Sender CPU: ``--rate`` requests per second (1,000 by default) paced through the protected app for
   ``--sender-seconds``; the CPU time of the event client's sender thread (``/proc/self/task/<tid>/stat``)
   over the wall time, and the events Canary accepted.

Everything runs on loopback and stops by itself. Prints a JSON report, then a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import common  # the sibling module; a script's own directory is first on sys.path
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from canary_resource import CanaryMiddleware, EventClient, TokenVerifier

Message = dict[str, Any]


async def report(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["id"], "rows": 120})


def make_app(protected: bool, issuer: str, client: dict[str, Any], events: EventClient | None) -> Starlette:
    app = Starlette(routes=[Route("/reports/{id}", report)])
    if protected:
        app.add_middleware(CanaryMiddleware, issuer=issuer, client_id=client["client_id"],  # type: ignore[arg-type]
                           client_secret=client["client_secret"], record_usage=True, events=events)
    return app


def scope_for(token: str, n: int) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": f"/reports/{n}", "raw_path": f"/reports/{n}".encode(), "root_path": "", "query_string": b"",
            "headers": [(b"host", b"api.example.com"), (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}


async def call(app: Starlette, scope: dict[str, Any]) -> int:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status


async def latencies(bare: Starlette, protected: Starlette, token: str, requests: int,
                    warmup: int) -> dict[str, list[int]]:
    times: dict[str, list[int]] = {"bare": [], "protected": []}
    for name, app in (("bare", bare), ("protected", protected)):
        for i in range(warmup):
            assert await call(app, scope_for(token, i)) == 200, name
    rounds = max(1, requests // 1000)
    for r in range(rounds):
        for name, app in (("bare", bare), ("protected", protected)):
            out = times[name]
            for i in range(1000):
                scope = scope_for(token, r * 1000 + i)
                t0 = time.perf_counter_ns()
                await call(app, scope)
                out.append(time.perf_counter_ns() - t0)
    return times


def thread_cpu(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def paced(app: Starlette, token: str, rate: int, seconds: float) -> int:
    interval, sent = 1.0 / rate, 0
    start = time.perf_counter()
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) / interval) + 1
        while sent < due:
            await call(app, scope_for(token, sent))
            sent += 1
        await asyncio.sleep(max(0.0, start + sent * interval - time.perf_counter()))
    return sent


def stats_us(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_us": round(ordered[len(ordered) // 2] / 1000, 2),
            "p90_us": round(ordered[int(len(ordered) * 0.9)] / 1000, 2),
            "p99_us": round(ordered[int(len(ordered) * 0.99)] / 1000, 2),
            "mean_us": round(statistics.fmean(ordered) / 1000, 2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=20_000, help="timed calls per app")
    p.add_argument("--warmup", type=int, default=2_000)
    p.add_argument("--fresh-tokens", type=int, default=200)
    p.add_argument("--rate", type=int, default=1_000, help="requests per second for the sender's CPU")
    p.add_argument("--sender-seconds", type=float, default=20.0)
    p.add_argument("--signing-alg", choices=["RS256", "ES256"], default="RS256")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before measuring wait up to SECONDS for the machine to be idle (shared machines)")
    p.add_argument("--json-out")
    args = p.parse_args()
    common.exit_on_signals()
    result: dict[str, Any] = {"machine": common.machine(), "signing_alg": args.signing_alg}
    with common.canary_server(signing_alg=args.signing_alg) as server:
        client = server.create_client("bench API", "--grant-type", "client_credentials", "--scope", "events:write",
                                      "--first-party")

        def token() -> str:
            return str(httpx.post(f"{server.url}/token", data={"grant_type": "client_credentials"},
                                  auth=(client["client_id"], client["client_secret"])).json()["access_token"])

        if args.wait_quiet:
            result["load_before"] = round(common.wait_for_quiet(args.wait_quiet), 2)
        presented = token()
        events = EventClient(server.url, client["client_id"], client["client_secret"], max_queue=1_000_000)
        bare = make_app(False, server.url, client, None)
        protected = make_app(True, server.url, client, events)
        times = asyncio.run(latencies(bare, protected, presented, args.requests, args.warmup))
        result["bare"], result["protected"] = stats_us(times["bare"]), stats_us(times["protected"])
        result["added_p50_us"] = round(result["protected"]["p50_us"] - result["bare"]["p50_us"], 2)

        verifier = TokenVerifier(server.url)
        verifier.verify(presented)  # discovery and JWKS
        fresh = [token() for _ in range(args.fresh_tokens)]
        first: list[int] = []
        for t in fresh:
            t0 = time.perf_counter_ns()
            verifier.verify(t)
            first.append(time.perf_counter_ns() - t0)
        result["first_verification"] = stats_us(first)
        verifier.close()

        assert events.flush(60)
        before = events.stats().sent
        assert events._thread is not None and events._thread.native_id is not None
        tid = events._thread.native_id
        cpu0, wall0 = thread_cpu(tid), time.perf_counter()
        done = asyncio.run(paced(protected, presented, args.rate, args.sender_seconds))
        assert events.flush(60)
        cpu, wall = thread_cpu(tid) - cpu0, time.perf_counter() - wall0
        stats = events.stats()
        result["sender"] = {"requests": done, "achieved_rate": round(done / args.sender_seconds),
                            "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 2),
                            "cpu_share_of_one_core": round(cpu / wall, 4), "events_sent": stats.sent - before,
                            "rejected": stats.rejected, "dropped": stats.dropped, "retries": stats.retries}
        events.close()
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    s = result["sender"]
    print(f"kit overhead: p50 bare {result['bare']['p50_us']} us, protected+recording "
          f"{result['protected']['p50_us']} us, added {result['added_p50_us']} us; first verification p50 "
          f"{result['first_verification']['p50_us']} us; sender {s['cpu_share_of_one_core'] * 100:.2f} % of a core "
          f"at {s['achieved_rate']} req/s ({s['events_sent']} events sent)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
