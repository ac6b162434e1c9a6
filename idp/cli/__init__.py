"""The ``canary`` command: one module per command group, each adding its parsers with ``register``.

Command modules import what their handlers need inside the handlers, so that building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from idp.cli import activity, alerts, clients, config, keys, mail, migrate, orgs, serve, users
from idp.settings import Settings, SettingsError, unknown_variables

COMMAND_GROUPS = (serve, migrate, users, orgs, clients, keys, config, activity, alerts, mail)
WITHOUT_DATABASE = {"config"}  # every other command opens the accounts database


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
    for warning in unknown_variables(os.environ):  # before the settings are read: a typo may be why they fail
        print(f"warning: {warning}", file=sys.stderr)
    overrides = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k, None)) is not None}
    try:
        settings = Settings.from_env(os.environ, **overrides)
        if args.command not in WITHOUT_DATABASE:
            settings.check_database_url()
        logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        code: int = args.handler(args, settings)
        return code
    except Exception as exc:
        message, status = failure(exc)
        print(message, file=sys.stderr)
        return status


def failure(exc: Exception) -> tuple[str, int]:
    """What a command that failed prints (one line) and its exit status: 2 for configuration, else 1.

    An error nothing here expected is logged with its traceback at debug level only: the command says what
    happened in one line, CANARY_LOG_LEVEL=debug shows where.
    """
    from sqlalchemy.exc import InterfaceError, OperationalError

    from analytics.alerts import AlertConfigError
    from analytics.api import ClickHouseError
    from analytics.queries import QueryError
    from idp.accounts.errors import AccountError
    from idp.oauth.errors import OAuthError
    from idp.oauth.key_cipher import KeyEncryptionError

    if isinstance(exc, SettingsError | KeyEncryptionError):
        return f"configuration error: {exc}", 2
    if isinstance(exc, AccountError | OAuthError | QueryError | AlertConfigError | FileNotFoundError):
        return f"error: {exc}", 1
    if isinstance(exc, ClickHouseError):
        return f"error: analytics (ClickHouse): {_first_line(exc)}", 1
    if isinstance(exc, OperationalError | InterfaceError):
        return f"error: the accounts database is unreachable: {_first_line(exc.orig or exc)}", 1
    logging.getLogger("canary").debug("unexpected error", exc_info=exc)
    return f"error: unexpected {type(exc).__name__}: {_first_line(exc)} (CANARY_LOG_LEVEL=debug shows where)", 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
