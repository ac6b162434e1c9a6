"""`canary activity …`: who is using the product."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from idp.cli import arguments
from idp.cli.command import Commands
from idp.cli.output import json_option, jsonable, table
from idp.cli.world import organization_id, world
from idp.settings import Settings


def cmd_inactive(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.queries import inactive_accounts

    with world(settings) as (factory, analytics, directory):
        rows = list(inactive_accounts(analytics.clickhouse, directory, args.days, datetime.now(UTC),
                                      organization=organization_id(factory, args.org)))
    if args.json:
        print(json.dumps(jsonable(rows), indent=2))
        return 0
    print(table(["account", "email", "last seen", "inactive days"],
                [(r.sub, r.email, r.last_seen.isoformat() if r.last_seen else "never", r.inactive_days)
                 for r in rows]))
    return 0


def cmd_account(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.queries import account_summary
    from idp.accounts.service import find_user_by_email

    with world(settings) as (factory, analytics, directory):
        with factory() as db:
            user = find_user_by_email(db, args.email)
        if user is None:
            print(f"error: no account {args.email}", file=sys.stderr)
            return 1
        summary = account_summary(analytics.clickhouse, directory, user.id, datetime.now(UTC))
    data = jsonable(summary)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for key, value in data.items():
        print(f"{key.replace('_', ' '):>22}: {json.dumps(value) if isinstance(value, dict | list) else value}")
    return 0


def cmd_at_risk(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.queries import ChurnModel, at_risk_accounts

    model = ChurnModel(**settings.churn_parameters())  # type: ignore[arg-type]
    with world(settings) as (factory, analytics, directory):
        found = at_risk_accounts(analytics.clickhouse, directory, datetime.now(UTC), model,
                                 organization=organization_id(factory, args.org))
        rows = found[:args.limit]
    if args.json:
        print(json.dumps([{"account": r.sub, "email": r.email, "state": r.state, "score": r.score,
                           "last_seen": r.last_seen.isoformat(), "explanation": r.explanation} for r in rows],
                         indent=2))
        return 0
    print(table(["account", "email", "state", "score", "last seen", "why"],
                [(r.sub, r.email, r.state, r.score, r.last_seen.isoformat(), r.explanation) for r in rows]))
    return 0


def register(sub: Commands) -> None:
    activity = sub.add_parser("activity", help="who is using the product").add_subparsers(
        dest="activity_command", required=True, metavar="COMMAND")
    inactive = activity.add_parser("inactive", help="accounts with no activity for N days")
    inactive.add_argument("--days", type=arguments.inactive_days, default=14,
                          help=f"days without activity (1 to {arguments.MAX_INACTIVE_DAYS}; default: 14)")
    inactive.add_argument("--org", help="organization id or slug")
    json_option(inactive)
    inactive.set_defaults(handler=cmd_inactive)
    at_risk = activity.add_parser("at-risk", help="accounts going quiet or slowing by their own rhythm, riskiest "
                                  "first")
    at_risk.add_argument("--org", help="organization id or slug")
    at_risk.add_argument("--limit", type=arguments.limit, default=50, help="at most this many (default: 50)")
    json_option(at_risk)
    at_risk.set_defaults(handler=cmd_at_risk)
    account = activity.add_parser("account", help="one account's activity summary")
    account.add_argument("email", help="the account's e-mail address")
    json_option(account)
    account.set_defaults(handler=cmd_account)
