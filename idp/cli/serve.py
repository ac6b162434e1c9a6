"""`canary serve`: prepare the databases, then run the provider in one process or in N worker processes."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import IO, TYPE_CHECKING, Any

from idp.bootstrap import ASGI_FACTORY, application, sql_sessions
from idp.cli import arguments
from idp.cli.command import Commands
from idp.cli.demo import DEMO_REDIRECT, demo
from idp.settings import Settings, SettingsError

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("canary")
LOCK_NAME = "serve.lock"
PREPARE_ATTEMPTS = 3


def prepare(settings: Settings) -> None:
    """What `serve` does before it listens: migrations (embedded database), a signing key, the built-in clients;
    safe when several nodes start at once on one database."""
    from sqlalchemy.exc import IntegrityError

    from idp.db import transaction
    from idp.migrate import migrate_sql
    from idp.oauth.clients import ensure_dashboard_client
    from idp.oauth.key_cipher import cipher_from
    from idp.oauth.keys import ensure_key
    from idp.oauth.user_grants import ensure_account_client

    if settings.embedded_database:
        migrate_sql(settings)
    with sql_sessions(settings) as factory:
        for attempt in range(PREPARE_ATTEMPTS):
            try:
                with transaction(factory) as db:
                    ensure_key(db, settings.signing_alg, cipher_from(settings.key_encryption_key))
                    ensure_dashboard_client(db, settings.issuer)
                    ensure_account_client(db, settings.issuer)
                return
            except IntegrityError:
                # Nodes started together on a new database: another one committed the same clients first;
                # the next attempt finds them.
                if attempt + 1 == PREPARE_ATTEMPTS:
                    raise


def hold_data_dir(settings: Settings) -> IO[str] | None:
    """The data directory's serve lock, held until the process exits; None when another process holds it."""
    import fcntl

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = (settings.data_dir / LOCK_NAME).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip()
        lock.close()
        print(f"canary serve is already running on {settings.data_dir.resolve()}"
              + (f" (pid {holder})" if holder else "") + ": stop it first, or use another CANARY_DATA_DIR",
              file=sys.stderr)
        return None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def metrics_for_workers(settings: Settings) -> None:
    """Prometheus' multiprocess mode for the workers about to start: an empty ``metrics/`` in the data directory
    named by PROMETHEUS_MULTIPROC_DIR, which the workers inherit. Set before anything imports prometheus-client
    (it reads the variable once); the samples of an earlier run are removed."""
    import shutil

    path = settings.data_dir.resolve() / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    lock = hold_data_dir(settings)
    if lock is None:
        return 1
    if settings.workers > 1:
        metrics_for_workers(settings)
    prepare(settings)
    if args.demo or settings.demo:
        info = demo(settings)
        print("Canary demo — sign in with:\n" + json.dumps(info, indent=2), flush=True)
        print(f"Try: {settings.issuer}/authorize?client_id={info['public_client']['client_id']}"
              f"&redirect_uri={DEMO_REDIRECT}&response_type=code&scope=openid%20profile%20email"
              "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\n"
              "  (then exchange the code with code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk)",
              flush=True)
        print(f"Console: {settings.issuer}/console (sign in as {info['user']['email']}: the demo user may open it)",
              flush=True)
        print(f"Mail: {info['mail']}", flush=True)
    if settings.workers > 1:
        if settings.analytics_url is None:
            raise SettingsError("more than one worker needs CANARY_ANALYTICS_URL (embedded ClickHouse is "
                                "single-process)")
        from idp.workers import Supervisor, balanced

        if balanced():
            try:
                supervisor = Supervisor(settings.workers, server_options(settings, args))
            except OSError as exc:
                print(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
                return 1
            return supervisor.run()
        uvicorn.run(ASGI_FACTORY, factory=True, workers=settings.workers, **server_options(settings, args))
        return 0
    app = application(settings)
    share_while_serving(app, settings)
    uvicorn.run(app, **server_options(settings, args))
    return 0


def share_while_serving(app: Starlette, settings: Settings) -> None:
    """While the app runs (its lifespan: uvicorn re-raises SIGTERM once it has shut down, so nothing after
    ``uvicorn.run`` runs), its embedded ClickHouse is served to the other commands on this data directory."""
    from analytics.api import share_embedded

    analytics = app.state.canary.analytics
    if analytics is None:
        return
    serving = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Any]:
        async with serving(app) as state:
            relay = None
            try:
                relay = share_embedded(analytics.clickhouse, settings.data_dir)
            except OSError as exc:
                log.warning("activity and alert commands cannot run while this server does: %s", exc)
            try:
                yield state
            finally:
                if relay is not None:
                    relay.close()

    app.router.lifespan_context = lifespan


def server_options(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's options. Proxy headers are read only from CANARY_FORWARDED_ALLOW_IPS: uvicorn's own default
    trusts them from 127.0.0.1, a middleware on every request that nothing here needs unless a proxy is set."""
    from idp.http_protocol import CanaryHttpProtocol

    return {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
            "access_log": args.access_log, "http": CanaryHttpProtocol,
            "proxy_headers": bool(settings.forwarded_allow_ips),
            "forwarded_allow_ips": settings.forwarded_allow_ips or None}


def register(sub: Commands) -> None:
    s = sub.add_parser("serve", help="run the provider")
    s.add_argument("--host", help="address to listen on (default: CANARY_HOST, 127.0.0.1)")
    s.add_argument("--port", type=arguments.port, help="port to listen on (default: CANARY_PORT, 8000)")
    s.add_argument("--workers", type=arguments.workers, help="serving processes (default: CANARY_WORKERS, 1; at "
                   f"most {arguments.MAX_WORKERS})")
    s.add_argument("--demo", action="store_true", help="create and print a demo user and clients")
    s.add_argument("--access-log", action="store_true", help="log every request")
    s.set_defaults(handler=cmd_serve)
