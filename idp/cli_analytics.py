"""`canary activity …` and `canary alerts …`: who is using the product, and who to be told about."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from idp.settings import Settings


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, *body]) if body else line + "\n(none)"


@contextmanager
def _world(settings: Settings) -> Iterator[tuple[Any, Any, Any]]:
    """Accounts session factory, analytics, directory — closed on exit."""
    from idp.cli import _factory, open_analytics
    from idp.directory import SqlAccountDirectory

    with _factory(settings) as factory:
        analytics = open_analytics(settings)
        try:
            yield factory, analytics, SqlAccountDirectory(factory)
        finally:
            analytics.close()


def _organization(factory: Any, value: str | None) -> str | None:
    if value is None:
        return None
    from idp.accounts.service import find_organization

    with factory() as db:
        org = find_organization(db, value)
    if org is None:
        raise SystemExit(f"error: unknown organization {value!r}")
    return org.id


def cmd_inactive(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.queries import inactive_accounts

    with _world(settings) as (factory, analytics, directory):
        rows = list(inactive_accounts(analytics.clickhouse, directory, args.days, datetime.now(UTC),
                                      organization=_organization(factory, args.org)))
    if args.json:
        print(json.dumps(_jsonable(rows), indent=2))
        return 0
    print(table(["account", "email", "last seen", "inactive days"],
                [(r.sub, r.email, r.last_seen.isoformat() if r.last_seen else "never", r.inactive_days)
                 for r in rows]))
    return 0


def cmd_account(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.queries import account_summary
    from idp.accounts.service import find_user_by_email

    with _world(settings) as (factory, analytics, directory):
        with factory() as db:
            user = find_user_by_email(db, args.email)
        if user is None:
            print(f"error: no account {args.email}", file=sys.stderr)
            return 1
        summary = account_summary(analytics.clickhouse, directory, user.id, datetime.now(UTC))
    data = _jsonable(summary)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for key, value in data.items():
        print(f"{key.replace('_', ' '):>22}: {json.dumps(value) if isinstance(value, dict | list) else value}")
    return 0


def cmd_alerts_run(args: argparse.Namespace, settings: Settings) -> int:
    from idp.alerting import alert_service

    with _world(settings) as (factory, analytics, _):
        service = alert_service(settings, factory, analytics)
        try:
            report = service.run_once()
        finally:
            service.close()
    print(json.dumps(_jsonable(report), indent=2) if args.json else
          f"{len(report.transitions)} transitions; deliveries: {_jsonable(report.deliveries)}")
    return 0


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    from analytics.alerts import AlertConfigError, UnknownRule, create_rule, delete_rule, rule_dict, rules_page
    from idp.alerting import organization_resolver
    from idp.cli import _factory
    from idp.db import transaction

    with _factory(settings) as factory:
        try:
            with transaction(factory) as db:
                if args.rules_command == "create":
                    rule = create_rule(db, args.name, args.days, args.org, args.webhook or (), args.email or (),
                                       organizations=organization_resolver(db))
                    print(json.dumps(rule_dict(rule)))
                    return 0
                if args.rules_command == "delete":
                    delete_rule(db, args.id)
                    return 0
                rows = [rule_dict(r) for r in rules_page(db)[0]]
        except (AlertConfigError, UnknownRule) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(["id", "name", "days", "organization", "enabled", "webhooks", "emails"],
                    [(r["id"], r["name"], r["threshold_days"], r["organization_id"] or "all", r["enabled"],
                      ",".join(map(str, r["webhook_ids"])), ",".join(r["emails"])) for r in rows]))
    return 0


def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from analytics.alerts import AlertConfigError, WebhookEndpoint, create_webhook_endpoint, enable_webhook_endpoint
    from idp.cli import _factory
    from idp.db import transaction

    with _factory(settings) as factory:
        if args.webhooks_command == "create":
            try:
                with transaction(factory) as db:
                    endpoint = create_webhook_endpoint(db, args.url, args.secret, args.description or "")
                    print(json.dumps({"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret}))
            except AlertConfigError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            return 0
        if args.webhooks_command == "enable":
            with transaction(factory) as db:
                found = db.get(WebhookEndpoint, args.id)
                if found is None:
                    print(f"error: no webhook endpoint {args.id}", file=sys.stderr)
                    return 1
                enable_webhook_endpoint(db, found)
            return 0
        with factory() as db:
            rows = [{"id": e.id, "url": e.url, "description": e.description,
                     "disabled": e.disabled_at is not None, "disabled_reason": e.disabled_reason,
                     "failure_count": e.failure_count}
                    for e in db.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(["id", "url", "status", "failures", "description"],
                    [(r["id"], r["url"], f"disabled: {r['disabled_reason']}" if r["disabled"] else "enabled",
                      r["failure_count"], r["description"]) for r in rows]))
    return 0


def register(sub: Any) -> None:
    activity = sub.add_parser("activity", help="who is using the product").add_subparsers(
        dest="activity_command", required=True)
    inactive = activity.add_parser("inactive", help="accounts with no activity for N days")
    inactive.add_argument("--days", type=int, default=14)
    inactive.add_argument("--org", help="organization id or slug")
    inactive.add_argument("--json", action="store_true")
    inactive.set_defaults(handler=cmd_inactive)
    account = activity.add_parser("account", help="one account's activity summary")
    account.add_argument("email")
    account.add_argument("--json", action="store_true")
    account.set_defaults(handler=cmd_account)

    alerts = sub.add_parser("alerts", help="inactivity alerts").add_subparsers(dest="alerts_command", required=True)
    run = alerts.add_parser("run", help="detect and deliver once (for cron)")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=cmd_alerts_run)

    rules = alerts.add_parser("rules").add_subparsers(dest="rules_command", required=True)
    rules_list = rules.add_parser("list")
    rules_list.add_argument("--json", action="store_true")
    rules_list.set_defaults(handler=cmd_rules)
    create = rules.add_parser("create")
    create.add_argument("name")
    create.add_argument("--days", type=int, required=True, help="inactivity threshold in days (1 to 3650)")
    create.add_argument("--org", help="organization id or slug (default: all accounts)")
    create.add_argument("--webhook", type=int, action="append", help="webhook endpoint id")
    create.add_argument("--email", action="append", help="e-mail recipient")
    create.set_defaults(handler=cmd_rules)
    delete = rules.add_parser("delete")
    delete.add_argument("id", type=int)
    delete.set_defaults(handler=cmd_rules)

    hooks = alerts.add_parser("webhooks").add_subparsers(dest="webhooks_command", required=True)
    hooks_list = hooks.add_parser("list")
    hooks_list.add_argument("--json", action="store_true")
    hooks_list.set_defaults(handler=cmd_webhooks)
    hook = hooks.add_parser("create", help="add an endpoint; prints its whsec_ signing secret")
    hook.add_argument("url")
    hook.add_argument("--secret", help="whsec_… secret (default: generated)")
    hook.add_argument("--description")
    hook.set_defaults(handler=cmd_webhooks)
    enable = hooks.add_parser("enable", help="re-enable a disabled endpoint")
    enable.add_argument("id", type=int)
    enable.set_defaults(handler=cmd_webhooks)
