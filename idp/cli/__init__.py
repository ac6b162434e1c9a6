"""The ``canary`` command: one module per command group, each adding its parsers with ``register``.

Command modules import what their handlers need inside the handlers, so that building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from idp.cli import activity, alerts, clients, config, keys, migrate, orgs, serve, users
from idp.settings import Settings, SettingsError, unknown_variables

COMMAND_GROUPS = (serve, migrate, users, orgs, clients, keys, config, activity, alerts)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="canary", description="OpenID Connect provider with usage analytics.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    _remember_parsers(p)
    return p


def _remember_parsers(p: argparse.ArgumentParser) -> None:
    """Each (sub)command's parser is stored in its namespace, so that an error found after parsing — an
    argument no parser took — shows the usage of the subcommand given, not the top-level one."""
    p.set_defaults(usage_parser=p)
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _remember_parsers(child)


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra:
        args.usage_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    overrides = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k, None)) is not None}
    try:
        settings = Settings.from_env(os.environ, **overrides)
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        for warning in unknown_variables(os.environ):
            logging.getLogger("canary.settings").warning(warning)
        code: int = args.handler(args, settings)
        return code
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from analytics.alerts import AlertConfigError
        from analytics.api import ClickHouseError
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
        if isinstance(exc, FileNotFoundError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if isinstance(exc, ClickHouseError):
            print(f"error: analytics (ClickHouse): {exc}", file=sys.stderr)
            return 1
        raise
