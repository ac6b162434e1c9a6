"""`canary clients …`: register OAuth clients and list them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from idp.bootstrap import sql_sessions
from idp.cli.command import Commands
from idp.cli.output import json_option, print_record, print_rows
from idp.settings import Settings

# The admin API's field for each option, so that a refusal names what was typed.
OPTIONS = {"name": "NAME", "redirect_uris": "--redirect-uri", "post_logout_redirect_uris": "--post-logout-redirect-uri",
           "grant_types": "--grant-type", "scope": "--scope", "organization": "--organization",
           "logo_uri": "--logo-uri", "initiate_login_uri": "--initiate-login-uri"}


def check_as_the_api_does(body: dict[str, Any]) -> str | None:
    """What the admin API would refuse in this registration (its ``ClientCreate`` schema), or None."""
    from idp.web.admin import schemas
    from idp.web.admin.validation import Invalid, validate

    try:
        validate(schemas.CLIENT_CREATE, body, schemas.resolve)
    except Invalid as invalid:
        field, _, index = invalid.field.partition("[")
        return f"{OPTIONS.get(field, invalid.field)}{'[' + index if index else ''} {invalid.message}"
    return None


def cmd_clients_create(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import find_organization
    from idp.db import transaction
    from idp.oauth.clients import create_client

    grants = args.grant_type or (["client_credentials"] if args.admin else ["authorization_code", "refresh_token"])
    given = {"name": args.name, "redirect_uris": args.redirect_uri,
             "post_logout_redirect_uris": args.post_logout_redirect_uri, "grant_types": list(dict.fromkeys(grants)),
             "scope": args.scope, "organization": args.organization, "logo_uri": args.logo_uri,
             "initiate_login_uri": args.initiate_login_uri}
    refused = check_as_the_api_does({k: v for k, v in given.items() if v is not None})
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    with sql_sessions(settings) as factory, transaction(factory) as db:
        org_id = None
        if args.organization:
            org = find_organization(db, args.organization)
            if org is None:
                print(f"error: unknown organization {args.organization}", file=sys.stderr)
                return 1
            org_id = org.id
        scope = args.scope or ("admin" if args.admin and grants == ["client_credentials"]
                               else "openid profile email offline_access")
        client, secret = create_client(
            db, name=args.name, redirect_uris=args.redirect_uri, grant_types=grants, scope=scope,
            public=args.public, first_party=args.first_party, admin=args.admin,
            post_logout_redirect_uris=args.post_logout_redirect_uri, organization_id=org_id,
            access_token_format=args.access_token_format, resource_server=args.resource_server,
            logo_uri=args.logo_uri, initiate_login_uri=args.initiate_login_uri,
            events_by_email=args.events_by_email)
        out = client.public_dict()
    if secret:  # printed once committed: a reader gone away cannot undo the registration
        out["client_secret"] = secret
    print_record(out, args.json)
    if secret and not args.json:
        print("The client_secret is shown once: keep it now.", file=sys.stderr)
    return 0


def cmd_clients_list(args: argparse.Namespace, settings: Settings) -> int:
    from idp.oauth.clients import list_clients

    with sql_sessions(settings) as factory, factory() as db:
        rows = [c.public_dict() for c in list_clients(db)]
    for r in rows:
        r["type"] = "public" if r["public"] else "confidential"
    print_rows(rows, (("client id", "client_id"), ("name", "name"), ("type", "type"), ("grants", "grant_types"),
                      ("scope", "scope")), args.json)
    return 0


def register(sub: Commands) -> None:
    clients = sub.add_parser("clients", help="OAuth clients (relying parties, resource servers)").add_subparsers(
        dest="clients_command", required=True, metavar="COMMAND")
    cc = clients.add_parser("create", help="register a client; prints its secret once")
    cc.add_argument("name", help="a name shown on the consent page")
    cc.add_argument("--redirect-uri", action="append", default=[], help="a registered redirect URI (repeatable)")
    cc.add_argument("--post-logout-redirect-uri", action="append", default=[],
                    help="a registered post-logout redirect URI (repeatable)")
    cc.add_argument("--grant-type", action="append", choices=["authorization_code", "refresh_token",
                                                               "client_credentials"],
                    help="a grant type (repeatable; default: authorization_code and refresh_token)")
    cc.add_argument("--scope", help="space-separated scopes the client may ask for")
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
    cc.add_argument("--events-by-email", action="store_true",
                    help="the events it posts may name their account by e-mail address as well as by sub")
    json_option(cc)
    cc.set_defaults(handler=cmd_clients_create)
    cl = clients.add_parser("list", help="list the registered clients")
    json_option(cl)
    cl.set_defaults(handler=cmd_clients_list)
