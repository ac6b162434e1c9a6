"""`canary serve`: prepare the databases, then run the provider in one process or in N worker processes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from idp.bootstrap import ASGI_FACTORY, application, sql_sessions
from idp.cli.command import Commands
from idp.cli.demo import DEMO_REDIRECT, demo
from idp.settings import Settings, SettingsError


def prepare(settings: Settings) -> None:
    """What `serve` does before it listens: migrations (embedded database), a signing key."""
    from idp.db import transaction
    from idp.migrate import migrate_sql
    from idp.oauth.clients import ensure_dashboard_client
    from idp.oauth.key_cipher import cipher_from
    from idp.oauth.keys import ensure_key

    if settings.embedded_database:
        migrate_sql(settings)
    with sql_sessions(settings) as factory, transaction(factory) as db:
        ensure_key(db, settings.signing_alg, cipher_from(settings.key_encryption_key))
        ensure_dashboard_client(db, settings.issuer)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

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
    uvicorn.run(application(settings), **server_options(settings, args))
    return 0


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
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.add_argument("--demo", action="store_true", help="create and print a demo user and clients")
    s.add_argument("--access-log", action="store_true")
    s.set_defaults(handler=cmd_serve)
