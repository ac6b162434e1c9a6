"""`canary clients …`: register OAuth clients and list them."""

from __future__ import annotations

import argparse
import json
import sys

from idp.bootstrap import sql_sessions
from idp.cli.command import Commands
from idp.settings import Settings


def cmd_clients_create(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import find_organization
    from idp.db import transaction
    from idp.oauth.clients import create_client

    grants = args.grant_type or (["client_credentials"] if args.admin else ["authorization_code", "refresh_token"])
    with sql_sessions(settings) as factory, transaction(factory) as db:
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
            access_token_format=args.access_token_format, resource_server=args.resource_server,
            logo_uri=args.logo_uri, initiate_login_uri=args.initiate_login_uri)
        out = client.public_dict()
        if secret:
            out["client_secret"] = secret
        print(json.dumps(out, indent=2))
    return 0


def cmd_clients_list(args: argparse.Namespace, settings: Settings) -> int:
    from idp.oauth.clients import list_clients

    with sql_sessions(settings) as factory, factory() as db:
        rows = [c.public_dict() for c in list_clients(db)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'CLIENT ID':24} {'NAME':28} {'TYPE':13} GRANTS")
        for r in rows:
            kind = "public" if r["public"] else "confidential"
            print(f"{r['client_id']:24} {r['name'][:28]:28} {kind:13} {' '.join(r['grant_types'])}")
    return 0


def register(sub: Commands) -> None:
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
    cc.add_argument("--resource-server", action="store_true",
                    help="may introspect tokens issued to other clients (an API that accepts them)")
    cc.add_argument("--organization", help="organization the client belongs to (event ingest scope)")
    cc.add_argument("--access-token-format", choices=["jwt", "opaque"], default="jwt",  # registration checks too
                    help="jwt (default): RFC 9068 tokens verifiable with the JWKS; opaque: encrypted, introspected")
    cc.add_argument("--logo-uri", help="https URL of the logo the login page shows")
    cc.add_argument("--initiate-login-uri", help="https URL that starts the client's sign-in; accepted "
                    "invitations naming the client send people there")
    cc.set_defaults(handler=cmd_clients_create)
    cl = clients.add_parser("list")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(handler=cmd_clients_list)
