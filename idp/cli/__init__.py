"""The ``canary`` command: one module per command group, each adding its parsers with ``register``.

Command modules import what their handlers need inside the handlers, so that building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from idp.cli import activity, alerts, clients, config, keys, mail, migrate, serve, users
from idp.settings import Settings, SettingsError

COMMAND_GROUPS = (serve, migrate, users, clients, keys, config, activity, alerts, mail)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="canary", description="OpenID Connect provider with usage analytics.")
    sub = p.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
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
