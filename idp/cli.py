"""The ``canary`` command."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from idp.settings import Settings, SettingsError, options_table

Handler = Callable[[argparse.Namespace, Settings], int]
DEMO_EMAIL = "demo@example.com"
DEMO_REDIRECT = "http://localhost:8080/callback"


@contextlib.contextmanager
def _factory(settings: Settings) -> Iterator[Any]:
    """A session factory on a short-lived engine, disposed on exit."""
    from idp.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def open_analytics(settings: Settings) -> Any:
    from analytics.api import Analytics

    return Analytics.open(url=settings.analytics_url, data_dir=settings.data_dir,
                          retention_days=settings.event_retention_days, spool_max_bytes=settings.spool_max_bytes,
                          rollup_interval=settings.usage_rollup_interval)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from idp.migrate import migrate_sql

    migrate_sql(settings)
    print("accounts database: up to date")
    if not args.sql_only:
        analytics = open_analytics(settings)
        try:
            analytics.migrate()
        finally:
            analytics.close()
        print("analytics (ClickHouse): up to date")
    return 0


def prepare(settings: Settings) -> None:
    """What `serve` does before it listens: migrations (embedded database), a signing key."""
    from idp.db import transaction
    from idp.migrate import migrate_sql
    from idp.oauth.clients import ensure_dashboard_client
    from idp.oauth.key_cipher import cipher_from
    from idp.oauth.keys import ensure_key

    if settings.embedded_database:
        migrate_sql(settings)
    with _factory(settings) as factory, transaction(factory) as db:
        ensure_key(db, settings.signing_alg, cipher_from(settings.key_encryption_key))
        ensure_dashboard_client(db, settings.issuer)


def demo(settings: Settings) -> dict[str, Any]:
    """A demo user (new random password each start) and two demo clients, printed for a first sign-in."""
    from sqlalchemy import select

    from idp.accounts.passwords import hash_password
    from idp.accounts.service import create_user, find_user_by_email
    from idp.db import transaction
    from idp.oauth.clients import create_client, rotate_secret
    from idp.oauth.models import Client
    from idp.opaque import new_secret

    password = new_secret(12)
    with _factory(settings) as factory, transaction(factory) as db:
        user = find_user_by_email(db, DEMO_EMAIL)
        if user is None:
            user = create_user(db, email=DEMO_EMAIL, password=password, name="Demo User", email_verified=True)
            user.is_admin = True
        else:
            user.password_hash = hash_password(password)
            user.locked_until = None
        spa = db.scalar(select(Client).where(Client.name == "Demo SPA"))
        if spa is None:
            spa, _ = create_client(db, name="Demo SPA", redirect_uris=[DEMO_REDIRECT], public=True,
                                   post_logout_redirect_uris=["http://localhost:8080/"])
        backend = db.scalar(select(Client).where(Client.name == "Demo resource server"))
        if backend is None:
            backend, secret = create_client(
                db, name="Demo resource server", grant_types=["client_credentials"], scope="events:write",
                first_party=True)
        else:
            secret = rotate_secret(db, backend)
        return {
            "issuer": settings.issuer,
            "user": {"email": DEMO_EMAIL, "password": password},
            "public_client": {"client_id": spa.client_id, "redirect_uri": DEMO_REDIRECT, "pkce": "S256"},
            "resource_server_client": {"client_id": backend.client_id, "client_secret": secret,
                                       "grant_type": "client_credentials", "scope": "events:write"},
        }


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
        uvicorn.run("idp.asgi:app", factory=True, workers=settings.workers, **server_options(settings, args))
        return 0
    from idp.asgi import app

    uvicorn.run(app(settings), **server_options(settings, args))
    return 0


def server_options(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's options. Proxy headers are read only from CANARY_FORWARDED_ALLOW_IPS: uvicorn's own default
    trusts them from 127.0.0.1, a middleware on every request that nothing here needs unless a proxy is set."""
    from idp.http_protocol import CanaryHttpProtocol

    return {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
            "access_log": args.access_log, "http": CanaryHttpProtocol,
            "proxy_headers": bool(settings.forwarded_allow_ips),
            "forwarded_allow_ips": settings.forwarded_allow_ips or None}


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import add_member, create_organization, create_user, find_organization
    from idp.db import transaction

    password = args.password_stdin and sys.stdin.readline().rstrip("\n")
    if not args.password_stdin:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat: "):
            print("passwords differ", file=sys.stderr)
            return 2
    with _factory(settings) as factory, transaction(factory) as db:
        user = create_user(db, email=args.email, password=password or None, name=args.name or "",
                           email_verified=args.verified)
        user.is_admin = args.admin
        org_id = None
        if args.organization:
            org = find_organization(db, args.organization) or create_organization(db, slug=args.organization)
            add_member(db, user, org, args.role)
            org_id = org.id
        print(json.dumps({"id": user.id, "email": user.email, "organization_id": org_id}))
    return 0


def cmd_users_admin(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import find_user_by_email
    from idp.db import transaction

    with _factory(settings) as factory, transaction(factory) as db:
        user = find_user_by_email(db, args.email)
        if user is None:
            print(f"error: no account {args.email}", file=sys.stderr)
            return 1
        user.is_admin = not args.revoke
        print(json.dumps({"id": user.id, "email": user.email, "is_admin": user.is_admin}))
    return 0


def cmd_clients_create(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import find_organization
    from idp.db import transaction
    from idp.oauth.clients import create_client

    grants = args.grant_type or (["client_credentials"] if args.admin else ["authorization_code", "refresh_token"])
    with _factory(settings) as factory, transaction(factory) as db:
        org_id = None
        if args.organization:
            org = find_organization(db, args.organization)
            if org is None:
                print(f"unknown organization {args.organization}", file=sys.stderr)
                return 2
            org_id = org.id
        scope = args.scope or ("admin" if args.admin and grants == ["client_credentials"]
                               else "openid profile email offline_access")
        client, secret = create_client(
            db, name=args.name, redirect_uris=args.redirect_uri, grant_types=grants, scope=scope,
            public=args.public, first_party=args.first_party, admin=args.admin,
            post_logout_redirect_uris=args.post_logout_redirect_uri, organization_id=org_id,
            access_token_format=args.access_token_format)
        out = client.public_dict()
        if secret:
            out["client_secret"] = secret
        print(json.dumps(out, indent=2))
    return 0


def cmd_clients_list(args: argparse.Namespace, settings: Settings) -> int:
    from idp.oauth.clients import list_clients

    with _factory(settings) as factory, factory() as db:
        rows = [c.public_dict() for c in list_clients(db)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'CLIENT ID':24} {'NAME':28} {'TYPE':13} GRANTS")
        for r in rows:
            kind = "public" if r["public"] else "confidential"
            print(f"{r['client_id']:24} {r['name'][:28]:28} {kind:13} {' '.join(r['grant_types'])}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from idp.db import transaction
    from idp.oauth.key_cipher import cipher_from
    from idp.oauth.keys import rotate

    cipher = cipher_from(settings.key_encryption_key)
    with _factory(settings) as factory, transaction(factory) as db:
        row = rotate(db, args.alg or settings.signing_alg, args.publish_delay, cipher)
        print(json.dumps({"kid": row.kid, "alg": row.alg, "published_at": row.created_at.isoformat(),
                          "signs_from": row.activates_at.isoformat()}))
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(options_table())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="canary", description="OpenID Connect provider with usage analytics.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the provider")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.add_argument("--demo", action="store_true", help="create and print a demo user and clients")
    s.add_argument("--access-log", action="store_true")
    s.set_defaults(handler=cmd_serve)

    m = sub.add_parser("migrate", help="create or upgrade the SQL schema and the ClickHouse schema")
    m.add_argument("--sql-only", action="store_true")
    m.set_defaults(handler=cmd_migrate)

    users = sub.add_parser("users").add_subparsers(dest="users_command", required=True)
    uc = users.add_parser("create", help="create a user")
    uc.add_argument("email")
    uc.add_argument("--name")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    uc.add_argument("--organization", help="organization slug (created if missing)")
    uc.add_argument("--role", default="member")
    uc.add_argument("--verified", action="store_true", help="mark the e-mail address verified")
    uc.add_argument("--admin", action="store_true", help="may open the activity dashboard")
    uc.set_defaults(handler=cmd_users_create)
    ua = users.add_parser("admin", help="let a user open the activity dashboard (or --revoke)")
    ua.add_argument("email")
    ua.add_argument("--revoke", action="store_true")
    ua.set_defaults(handler=cmd_users_admin)

    clients = sub.add_parser("clients").add_subparsers(dest="clients_command", required=True)
    cc = clients.add_parser("create", help="register a client; prints its secret once")
    cc.add_argument("name")
    cc.add_argument("--redirect-uri", action="append", default=[])
    cc.add_argument("--post-logout-redirect-uri", action="append", default=[])
    cc.add_argument("--grant-type", action="append", choices=["authorization_code", "refresh_token",
                                                               "client_credentials"])
    cc.add_argument("--scope")
    cc.add_argument("--public", action="store_true", help="no secret; PKCE required")
    cc.add_argument("--first-party", action="store_true", help="skip the consent page")
    cc.add_argument("--admin", action="store_true", help="may use the admin API")
    cc.add_argument("--organization", help="organization the client belongs to (event ingest scope)")
    cc.add_argument("--access-token-format", choices=["jwt", "opaque"], default="jwt",  # registration checks too
                    help="jwt (default): RFC 9068 tokens verifiable with the JWKS; opaque: encrypted, introspected")
    cc.set_defaults(handler=cmd_clients_create)
    cl = clients.add_parser("list")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(handler=cmd_clients_list)

    keys = sub.add_parser("keys").add_subparsers(dest="keys_command", required=True)
    kr = keys.add_parser("rotate", help="publish a new signing key; it signs after --publish-delay seconds")
    kr.add_argument("--alg", choices=["RS256", "ES256"])
    kr.add_argument("--publish-delay", type=int, default=300)
    kr.set_defaults(handler=cmd_keys_rotate)

    cfg = sub.add_parser("config", help="print every CANARY_* setting with its default and meaning (Markdown)")
    cfg.set_defaults(handler=cmd_config)

    from idp.cli_analytics import register

    register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k, None)) is not None}
    try:
        settings = Settings.from_env(os.environ, **overrides)
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        code: int = args.handler(args, settings)
        return code
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from analytics.alerts import AlertConfigError
        from analytics.queries import QueryError
        from idp.accounts.errors import AccountError
        from idp.oauth.errors import OAuthError
        from idp.oauth.key_cipher import KeyEncryptionError

        if isinstance(exc, KeyEncryptionError):
            print(f"configuration error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, AccountError | OAuthError | QueryError | AlertConfigError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
