"""What operators and their tools ask a running provider: ``/metrics`` (Prometheus text), ``/healthz`` (the
process answers) and ``/readyz`` (it can serve: the accounts database answers, the signing keys load and
the event spool is writable).

ClickHouse being away does not make Canary unready: events wait in the spool, sign-ins and tokens go on; it is
reported as ``degraded``. ``/metrics`` is open to the addresses and networks of CANARY_METRICS_ALLOW_IPS
(loopback by default) and to any request carrying CANARY_METRICS_TOKEN as a bearer token; anything else gets 403.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import logging
from typing import Any

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idp import metrics
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE, json_error

log = logging.getLogger("canary")
CLICKHOUSE_TIMEOUT_SECONDS = 2.0
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _allowed(request: Request, c: Canary) -> bool:
    token = c.settings.metrics_token
    if token:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return True
    client = request.client
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return False
    return any(address in network for network in _networks(c.settings.metrics_allow_ips))


@functools.lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """CANARY_METRICS_ALLOW_IPS as networks: an address is a network of one (the settings checked each entry)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


async def metrics_text(request: Request) -> Response:
    c = canary(request)
    if not _allowed(request, c):
        return json_error("forbidden", "metrics are open to the addresses of CANARY_METRICS_ALLOW_IPS and to "
                          "requests with CANARY_METRICS_TOKEN as a bearer token", 403)
    condition = c.analytics.condition() if c.analytics is not None else None
    return Response(metrics.exposition(condition), media_type=metrics.CONTENT_TYPE, headers=NO_STORE)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


def _database(c: Canary) -> None:
    with c.factory() as db:
        db.execute(text("SELECT 1"))


def _signing_keys(c: Canary) -> tuple[str, ...]:
    """Each algorithm tokens are signed with has a usable key (ID tokens are RS256 unless a client asks);
    the stored keys left out because they do not decrypt."""
    for alg in sorted({c.settings.signing_alg, "RS256"}):
        c.keys.signing_key(alg)
    return c.keys.unreadable


async def readyz(request: Request) -> Response:
    c = canary(request)
    checks: dict[str, Any] = {}
    try:
        await run_in_threadpool(_database, c)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    degraded = False
    if checks["database"] == "ok":
        try:
            unreadable = await run_in_threadpool(_signing_keys, c)
            checks["signing_keys"] = "ok"
            if unreadable:
                checks["signing_keys"] = (f"ok, but {', '.join(unreadable)} left out: it does not decrypt with "
                                          "CANARY_KEY_ENCRYPTION_KEY")
                degraded = True
        except Exception as exc:
            log.error("signing keys unusable: %s", exc)
            checks["signing_keys"] = f"unusable: {type(exc).__name__} (the log says why)"
    analytics = c.analytics
    if analytics is None:
        checks["spool"] = checks["clickhouse"] = "not configured"
    else:
        condition = analytics.condition()
        if not condition.spool_writable:
            checks["spool"] = "not writable"
        elif condition.spool_bytes >= condition.spool_max_bytes:
            checks["spool"] = "full: ingest answers 503 until ClickHouse catches up"
            degraded = True
        else:
            checks["spool"] = "ok"
        try:
            up = await asyncio.wait_for(run_in_threadpool(analytics.clickhouse.ping), CLICKHOUSE_TIMEOUT_SECONDS)
        except TimeoutError:
            up = False
        checks["clickhouse"] = "ok" if up else "unreachable: events wait in the spool"
        degraded = degraded or not up
    ready = (checks["database"] == "ok" and checks.get("signing_keys", "").startswith("ok")
             and checks["spool"] != "not writable")
    status = "unready" if not ready else "degraded" if degraded else "ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503, headers=NO_STORE)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_text, methods=["GET"]),
]
