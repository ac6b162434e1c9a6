"""`canary config`: every CANARY_* setting with its default and meaning (Markdown)."""

from __future__ import annotations

import argparse

from idp.cli.command import Commands
from idp.settings import Settings, options_table


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(options_table())
    return 0


def register(sub: Commands) -> None:
    cfg = sub.add_parser("config", help="print every CANARY_* setting with its default and meaning (Markdown)")
    cfg.set_defaults(handler=cmd_config)
