"""Server CPU under light, steady traffic: what recording events costs when there are few of them.

Starts `canary serve` on its embedded default (SQLite + chDB) on a free 127.0.0.1 port with a fresh data
directory, creates one confidential client, then asks for a `client_credentials` token (each recorded as a
`token.issued` event) ``--rate`` times a second, evenly spaced, for ``--duration`` seconds after ``--warmup``,
and reports the server's CPU (its process tree, chDB's threads included): cores used, and CPU per token. Each
``--flush-seconds`` value is a separate server with that `CANARY_ANALYTICS_FLUSH_SECONDS`, the values run in
turn ``--rounds`` times, so that a busy machine disturbs them alike.

Examples
  .venv/bin/python bench/light_traffic.py
  .venv/bin/python bench/light_traffic.py --rate 20 --duration 30 --flush-seconds 1 --flush-seconds 5 --rounds 2
  .venv/bin/python bench/light_traffic.py --rate 0 --duration 30   # an idle server
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import common  # the sibling module; a script's own directory is first on sys.path
import httpx


def measure(rate: float, duration: float, warmup: float, flush_seconds: float) -> dict[str, Any]:
    with common.canary_server(extra_env={"CANARY_ANALYTICS_FLUSH_SECONDS": str(flush_seconds)}) as server:
        client = server.create_client("light traffic", "--grant-type", "client_credentials")
        auth = (client["client_id"], client["client_secret"])
        with httpx.Client(base_url=server.url, timeout=30) as http:

            def drive(seconds: float) -> int:
                sent, started = 0, time.monotonic()
                while (elapsed := time.monotonic() - started) < seconds:
                    if rate > 0 and sent < elapsed * rate:
                        answer = http.post("/token", data={"grant_type": "client_credentials"}, auth=auth)
                        if answer.status_code != 200:
                            raise RuntimeError(f"token request failed: {answer.status_code} {answer.text}")
                        sent += 1
                    else:
                        time.sleep(0.002)
                return sent

            drive(warmup)
            pids = server.server_pids()
            cpu_before, wall_before = common.cpu_seconds(pids), time.monotonic()
            sent = drive(duration)
            cpu = common.cpu_seconds(pids) - cpu_before
            wall = time.monotonic() - wall_before
    return {"flush_seconds": flush_seconds, "tokens_per_second": round(sent / wall, 1),
            "server_cores": round(cpu / wall, 4),
            "server_cpu_ms_per_token": round(1000 * cpu / sent, 3) if sent else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="token requests per second (0 = idle)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of traffic before measuring")
    parser.add_argument("--flush-seconds", type=float, action="append",
                        help="CANARY_ANALYTICS_FLUSH_SECONDS of a run (repeatable; default 1 and 5)")
    parser.add_argument("--rounds", type=int, default=1, help="times each value runs, in turn")
    args = parser.parse_args()
    common.exit_on_signals()
    runs = [measure(args.rate, args.duration, args.warmup, flush)
            for _ in range(args.rounds) for flush in (args.flush_seconds or [1.0, 5.0])]
    print(json.dumps({"machine": common.machine(), "rate": args.rate, "runs": runs}, indent=2))
    for run in runs:
        print(f"flush every {run['flush_seconds']} s: {run['tokens_per_second']} tokens/s, server "
              f"{run['server_cores']} cores, {run['server_cpu_ms_per_token']} ms of CPU per token")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
