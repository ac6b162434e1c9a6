"""`canary mail …`: where mail goes, the queue's state, and a test message to check the configuration."""

from __future__ import annotations

import argparse
import json

from idp.cli import arguments
from idp.cli.command import Commands
from idp.cli.output import json_option, print_record, print_rows
from idp.settings import Settings


def cmd_mail_status(args: argparse.Namespace, settings: Settings) -> int:
    """Messages per status, and the last failures with their errors."""
    from sqlalchemy import select

    from idp.bootstrap import sql_sessions
    from idp.cli.demo import mail_destination
    from idp.mail.models import FAILED, PENDING, OutgoingMail
    from idp.mail.queue import counts

    with sql_sessions(settings) as factory, factory() as db:
        troubled = db.scalars(select(OutgoingMail).where(OutgoingMail.status.in_([PENDING, FAILED]),
                                                          OutgoingMail.last_error.is_not(None))
                              .order_by(OutgoingMail.id.desc()).limit(args.limit)).all()
        problems = [{"id": m.id, "to": m.recipient, "template": m.template, "status": m.status,
                     "attempts": m.attempts, "last_error": m.last_error,
                     "next_attempt_at": m.next_attempt_at.isoformat()} for m in troubled]
        if args.json:
            print(json.dumps({"destination": mail_destination(settings), "messages": counts(db),
                              "problems": problems}, indent=2))
            return 0
        print_record({"destination": mail_destination(settings), **counts(db)}, False)
        if problems:
            print()
            print_rows(problems, [("ID", "id"), ("TO", "to"), ("TEMPLATE", "template"), ("STATUS", "status"),
                                  ("ATTEMPTS", "attempts"), ("LAST ERROR", "last_error"),
                                  ("NEXT ATTEMPT", "next_attempt_at")], False)
    return 0


def cmd_mail_test(args: argparse.Namespace, settings: Settings) -> int:
    """Queue a test message to ADDRESS and try to send it now; exit 1 when it did not go out."""
    from idp.accounts.users import normalize_email
    from idp.bootstrap import account_flows
    from idp.mail.sender import send_due

    address = normalize_email(args.address)  # one address, as an account's would be (AccountError: exit 1)
    with account_flows(settings) as (flows, factory):
        mail_id = flows.mail.send("test", address)
        report = send_due(factory, flows.mail.transport, flows.clock)
    sent = mail_id in report.sent
    print_record({"id": mail_id, "to": address, "sent": sent}, args.json)
    return 0 if sent else 1


def register(sub: Commands) -> None:
    mail = sub.add_parser("mail", help="outgoing mail: where it goes, its queue, a test message").add_subparsers(
        dest="mail_command", required=True)
    status = mail.add_parser("status", help="where mail goes, the queue's counts and its last problems")
    status.add_argument("--limit", type=arguments.limit, default=20,
                        help="how many recent problems to show (default 20)")
    json_option(status)
    status.set_defaults(handler=cmd_mail_status)
    test = mail.add_parser("test", help="send a test message")
    test.add_argument("address", help="e-mail address to send the test message to")
    json_option(test)
    test.set_defaults(handler=cmd_mail_test)
