"""`canary orgs …`: organizations (the SaaS's customers) and their members."""

from __future__ import annotations

import argparse
from typing import Any

from idp.bootstrap import sql_sessions
from idp.cli import arguments
from idp.cli.command import Commands
from idp.cli.output import json_option, print_record, print_rows
from idp.settings import Settings


def cmd_orgs_list(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import member_counts, search_organizations

    with sql_sessions(settings) as factory, factory() as db:
        orgs, _total = search_organizations(db, args.query or "", limit=args.limit)
        counts = member_counts(db, [o.id for o in orgs])
        rows = [{"id": o.id, "slug": o.slug, "name": o.name, "members": counts[o.id], "created_at": o.created_at}
                for o in orgs]
    print_rows(rows, (("slug", "slug"), ("name", "name"), ("members", "members"), ("id", "id"),
                      ("created", "created_at")), args.json)
    return 0


def cmd_orgs_create(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import create_organization
    from idp.db import transaction

    with sql_sessions(settings) as factory, transaction(factory) as db:
        org = create_organization(db, slug=args.slug, name=args.name or "")
        created = {"id": org.id, "slug": org.slug, "name": org.name, "created_at": org.created_at}
    print_record(created, args.json)  # once committed
    return 0


def cmd_orgs_members(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.errors import NotFound
    from idp.accounts.service import find_organization, members_page

    with sql_sessions(settings) as factory, factory() as db:
        org = find_organization(db, args.organization)
        if org is None:
            raise NotFound(f"no organization {args.organization}")
        members, _total = members_page(db, org, limit=args.limit)
        rows: list[dict[str, Any]] = [
            {"account_id": user.id, "email": user.email, "name": user.name, "role": membership.role,
             "state": membership.state, "invited_at": membership.invited_at, "disabled": user.disabled,
             "joined_at": membership.created_at} for user, membership in members]
    print_rows(rows, (("email", "email"), ("name", "name"), ("role", "role"), ("state", "state"),
                      ("disabled", "disabled"),
                      ("account id", "account_id"), ("joined", "joined_at")), args.json)
    return 0


def register(sub: Commands) -> None:
    orgs = sub.add_parser("orgs", help="organizations and their members").add_subparsers(
        dest="orgs_command", required=True, metavar="COMMAND")
    ol = orgs.add_parser("list", help="list organizations by slug")
    ol.add_argument("query", nargs="?", help="only organizations whose slug or name contains this")
    ol.add_argument("--limit", type=arguments.limit, default=1000, help="at most this many (default: 1000)")
    json_option(ol)
    ol.set_defaults(handler=cmd_orgs_list)
    oc = orgs.add_parser("create", help="create an organization")
    oc.add_argument("slug", help="lowercase letters, digits and dashes; how the CLI and dashboard name it")
    oc.add_argument("--name", help="display name (default: the slug)")
    json_option(oc)
    oc.set_defaults(handler=cmd_orgs_create)
    om = orgs.add_parser("members", help="an organization's members")
    om.add_argument("organization", help="organization slug or id")
    om.add_argument("--limit", type=arguments.limit, default=1000, help="at most this many (default: 1000)")
    json_option(om)
    om.set_defaults(handler=cmd_orgs_members)
