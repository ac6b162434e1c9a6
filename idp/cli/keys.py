"""`canary keys rotate`: publish a new signing key, which signs once the publish delay has passed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from idp.bootstrap import sql_sessions
from idp.cli import arguments
from idp.cli.command import Commands
from idp.cli.output import json_option, print_record
from idp.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from idp.oauth.key_cipher import KeyCipher


def check_stored_keys(db: Session, cipher: KeyCipher | None) -> None:
    """KeyEncryptionError unless every stored key decrypts with this configuration's cipher. The server
    leaves a key that does not out of signing and of the JWKS: a key added under a CANARY_KEY_ENCRYPTION_KEY
    the server does not have would never sign, while the command seemed to succeed."""
    from sqlalchemy import select

    from idp.oauth.key_cipher import KeyEncryptionError, read_stored
    from idp.oauth.models import SigningKey

    unreadable = []
    for kid, stored in db.execute(select(SigningKey.kid, SigningKey.private_jwk)):
        try:
            read_stored(cipher, kid, stored)
        except KeyEncryptionError:
            unreadable.append(kid)
    if unreadable:
        setting = "this CANARY_KEY_ENCRYPTION_KEY" if cipher else "no CANARY_KEY_ENCRYPTION_KEY (they are encrypted)"
        raise KeyEncryptionError(f"{len(unreadable)} of the stored signing keys ({', '.join(unreadable)}) do not "
                                 f"decrypt with {setting}; no key was added: run the command with the server's "
                                 "CANARY_KEY_ENCRYPTION_KEY")


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from idp.db import transaction
    from idp.oauth.key_cipher import cipher_from
    from idp.oauth.keys import rotate

    cipher = cipher_from(settings.key_encryption_key)
    with sql_sessions(settings) as factory, transaction(factory) as db:
        check_stored_keys(db, cipher)
        row = rotate(db, args.alg or settings.signing_alg, args.publish_delay, cipher)
        added = {"kid": row.kid, "alg": row.alg, "published_at": row.created_at, "signs_from": row.activates_at}
    print_record(added, args.json)
    return 0


def register(sub: Commands) -> None:
    keys = sub.add_parser("keys", help="token signing keys").add_subparsers(
        dest="keys_command", required=True, metavar="COMMAND")
    kr = keys.add_parser("rotate", help="publish a new signing key; it signs after --publish-delay seconds")
    kr.add_argument("--alg", choices=["RS256", "ES256"], help="signature algorithm (default: CANARY_SIGNING_ALG)")
    kr.add_argument("--publish-delay", type=arguments.publish_delay, default=300,
                    help="seconds between publishing the key and signing with it (0 to "
                    f"{arguments.MAX_PUBLISH_DELAY}, a year; default: 300)")
    json_option(kr)
    kr.set_defaults(handler=cmd_keys_rotate)
