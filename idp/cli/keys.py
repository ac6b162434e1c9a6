"""`canary keys rotate`: publish a new signing key, which signs once the publish delay has passed."""

from __future__ import annotations

import argparse

from idp.bootstrap import sql_sessions
from idp.cli.command import Commands
from idp.cli.output import json_option, print_record
from idp.settings import Settings


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from idp.db import transaction
    from idp.oauth.key_cipher import cipher_from
    from idp.oauth.keys import rotate

    cipher = cipher_from(settings.key_encryption_key)
    with sql_sessions(settings) as factory, transaction(factory) as db:
        row = rotate(db, args.alg or settings.signing_alg, args.publish_delay, cipher)
        print_record({"kid": row.kid, "alg": row.alg, "published_at": row.created_at,
                      "signs_from": row.activates_at}, args.json)
    return 0


def register(sub: Commands) -> None:
    keys = sub.add_parser("keys", help="token signing keys").add_subparsers(
        dest="keys_command", required=True, metavar="COMMAND")
    kr = keys.add_parser("rotate", help="publish a new signing key; it signs after --publish-delay seconds")
    kr.add_argument("--alg", choices=["RS256", "ES256"], help="signature algorithm (default: CANARY_SIGNING_ALG)")
    kr.add_argument("--publish-delay", type=int, default=300,
                    help="seconds between publishing the key and signing with it (default: 300)")
    json_option(kr)
    kr.set_defaults(handler=cmd_keys_rotate)
