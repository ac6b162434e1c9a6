"""`canary alerts …`: inactivity alerts — run detection and delivery once, manage rules and webhook endpoints."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from idp.bootstrap import sql_sessions
from idp.cli import arguments
from idp.cli.command import Commands
from idp.cli.output import json_option, jsonable, print_record, table
from idp.cli.world import world
from idp.settings import Settings


def cmd_alerts_run(args: argparse.Namespace, settings: Settings) -> int:
    from idp.alerting import alert_service
    from idp.mail import transport_for

    with world(settings) as (factory, analytics, _):
        service = alert_service(settings, factory, analytics, transport_for(settings))
        try:
            report = service.run_once()
        finally:
            service.close()
    print(json.dumps(jsonable(report), indent=2) if args.json else
          f"{len(report.transitions)} transitions; deliveries: {jsonable(report.deliveries)}")
    return 0


DECLINING = "organization.declining"
DECLINING_DAYS = 7
"""What an `organization.declining` rule stores as its threshold when --days is not given: the rules service
keeps one for every rule, though this kind does not use it (it compares weeks)."""


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.alerts import AlertConfigError, UnknownRule, create_rule, delete_rule, rule_dict, rules_page
    from idp.alerting import organization_resolver, rule_warnings
    from idp.db import transaction

    if args.rules_command == "create" and args.days is None and args.kind != DECLINING:
        print(f"error: --days is required (unless --kind {DECLINING})", file=sys.stderr)
        return 2
    with sql_sessions(settings) as factory:
        try:
            with transaction(factory) as db:
                if args.rules_command == "create":
                    days = DECLINING_DAYS if args.days is None else args.days
                    rule = create_rule(db, args.name, days, args.org, args.webhook or (), args.email or (),
                                       kind=args.kind, digest=args.digest, organizations=organization_resolver(db))
                    created = rule_dict(rule)
                elif args.rules_command == "delete":
                    delete_rule(db, args.id)
                else:
                    rows: list[dict[str, Any]] = [rule_dict(r) for r in rules_page(db)[0]]
        except (AlertConfigError, UnknownRule) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    # Printed once committed: a reader that went away (a closed pipe) cannot undo the change.
    if args.rules_command == "create":
        print_record(created, args.json)
        for warning in rule_warnings(settings, created["emails"]):
            print(f"warning: {warning}", file=sys.stderr)
    elif args.rules_command == "delete":
        print(f"deleted alert rule {args.id}")
    elif args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(["id", "name", "kind", "days", "organization", "enabled", "webhooks", "emails"],
                    [(r["id"], r["name"], r["kind"], r["threshold_days"], r["organization_id"] or "all", r["enabled"],
                      ",".join(map(str, r["webhook_ids"])), ",".join(r["emails"])) for r in rows]))
    return 0


def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.alerts import (
        AlertConfigError,
        UnknownEndpoint,
        create_webhook_endpoint,
        enable_webhook_endpoint,
        get_webhook_endpoint,
        webhook_dict,
        webhook_endpoints_page,
    )
    from idp.db import transaction

    with sql_sessions(settings) as factory:
        try:
            with transaction(factory) as db:
                if args.webhooks_command == "create":
                    endpoint = create_webhook_endpoint(db, args.url, args.secret, args.description or "",
                                                       allow_private=settings.webhook_allow_private,
                                                       format_=args.format)
                    created = {"id": endpoint.id, "url": endpoint.url, "format": endpoint.format,
                               "secret": endpoint.secret}
                elif args.webhooks_command == "enable":
                    enable_webhook_endpoint(db, get_webhook_endpoint(db, args.id))
                else:
                    rows: list[dict[str, Any]] = [webhook_dict(e) for e in webhook_endpoints_page(db, 0, None)[0]]
        except (AlertConfigError, UnknownEndpoint) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    # Printed once committed: a reader that went away (a closed pipe) cannot undo the change.
    if args.webhooks_command == "create":
        print_record(created, args.json)
    elif args.webhooks_command == "enable":
        print(f"enabled webhook endpoint {args.id}")
    elif args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(["id", "url", "format", "status", "failures", "description"],
                    [(r["id"], r["url"], r["format"],
                      f"disabled: {r['disabled_reason']}" if r["disabled"] else "enabled",
                      r["failure_count"], r["description"]) for r in rows]))
    return 0


def register(sub: Commands) -> None:
    alerts = sub.add_parser("alerts", help="inactivity alerts").add_subparsers(
        dest="alerts_command", required=True, metavar="COMMAND")
    run = alerts.add_parser("run", help="detect and deliver once (for cron)")
    json_option(run)
    run.set_defaults(handler=cmd_alerts_run)

    rules = alerts.add_parser("rules", help="alert rules: who to tell when accounts go quiet").add_subparsers(
        dest="rules_command", required=True, metavar="COMMAND")
    rules_list = rules.add_parser("list", help="list alert rules")
    json_option(rules_list)
    rules_list.set_defaults(handler=cmd_rules)
    create = rules.add_parser("create", help="add an alert rule")
    create.add_argument("name", help="a name for the rule")
    create.add_argument("--days", type=arguments.threshold_days,
                        help=f"inactivity threshold in days ({arguments.MIN_THRESHOLD_DAYS} to "
                        f"{arguments.MAX_THRESHOLD_DAYS}); required, except for organization.declining, which does "
                        "not use it")
    create.add_argument("--kind", default="account.inactive",
                        help="what the rule reports: a fixed silence of --days (account.inactive, the default), an "
                        "account going quiet by its own rhythm (account.going_quiet; --days applies to accounts "
                        "with no rhythm yet) or an organization in decline (organization.declining)")
    create.add_argument("--org", help="organization id or slug (default: all accounts)")
    create.add_argument("--webhook", type=arguments.record_id, action="append", help="webhook endpoint id")
    create.add_argument("--email", action="append", help="e-mail recipient (sent through CANARY_SMTP_HOST; without it, "
                        "written to the development outbox)")
    create.add_argument("--digest", choices=("daily", "weekly"),
                        help="e-mail one digest per day or week instead of one message per transition")
    json_option(create)
    create.set_defaults(handler=cmd_rules)
    delete = rules.add_parser("delete", help="delete an alert rule")
    delete.add_argument("id", type=arguments.record_id, help="the rule's id")
    delete.set_defaults(handler=cmd_rules)

    hooks = alerts.add_parser("webhooks", help="webhook endpoints notified by alert rules").add_subparsers(
        dest="webhooks_command", required=True, metavar="COMMAND")
    hooks_list = hooks.add_parser("list", help="list webhook endpoints")
    json_option(hooks_list)
    hooks_list.set_defaults(handler=cmd_webhooks)
    hook = hooks.add_parser("create", help="add an endpoint; prints its whsec_ signing secret")
    hook.add_argument("url", help="https URL that receives the notifications")
    hook.add_argument("--secret", help="whsec_… secret (default: generated)")
    hook.add_argument("--description", help="a note for operators")
    hook.add_argument("--format", choices=("standard", "slack"), default="standard",
                      help="standard: signed JSON (default); slack: a Slack-compatible incoming webhook "
                      "receiving {\"text\": ...}")
    json_option(hook)
    hook.set_defaults(handler=cmd_webhooks)
    enable = hooks.add_parser("enable", help="re-enable a disabled endpoint")
    enable.add_argument("id", type=arguments.record_id, help="the endpoint's id")
    enable.set_defaults(handler=cmd_webhooks)
