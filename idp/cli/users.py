"""`canary users …`: create accounts, and let one open the activity dashboard."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from idp.bootstrap import sql_sessions
from idp.cli.command import Commands
from idp.settings import Settings


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import add_member, create_organization, create_user, find_organization
    from idp.db import transaction

    password = args.password_stdin and sys.stdin.readline().rstrip("\n")
    if not args.password_stdin:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat: "):
            print("passwords differ", file=sys.stderr)
            return 2
    with sql_sessions(settings) as factory, transaction(factory) as db:
        user = create_user(db, email=args.email, password=password or None, name=args.name or "",
                           email_verified=args.verified, password_min_length=settings.password_min_length)
        user.is_admin = args.admin
        org_id = None
        if args.organization:
            org = find_organization(db, args.organization) or create_organization(db, slug=args.organization)
            add_member(db, user, org, args.role)
            org_id = org.id
        print(json.dumps({"id": user.id, "email": user.email, "organization_id": org_id}))
    return 0


def cmd_users_admin(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import find_user_by_email
    from idp.db import transaction

    with sql_sessions(settings) as factory, transaction(factory) as db:
        user = find_user_by_email(db, args.email)
        if user is None:
            print(f"error: no account {args.email}", file=sys.stderr)
            return 1
        user.is_admin = not args.revoke
        print(json.dumps({"id": user.id, "email": user.email, "is_admin": user.is_admin}))
    return 0


def cmd_users_reset_factors(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.factors.policy import reset
    from idp.accounts.service import find_user_by_email
    from idp.db import transaction

    with sql_sessions(settings) as factory, transaction(factory) as db:
        user = find_user_by_email(db, args.email)
        if user is None:
            print(f"error: no account {args.email}", file=sys.stderr)
            return 1
        had = reset(db, user.id)
        print(json.dumps({"id": user.id, "email": user.email, "removed": {
            "totp": had.totp, "passkeys": had.passkeys, "recovery_codes": had.recovery_codes}}))
    return 0


def cmd_users_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    """Mail the account a password reset link, as "Forgot password?" does."""
    from idp.accounts.recovery import request_reset
    from idp.bootstrap import account_flows
    from idp.mail.sender import send_due

    with account_flows(settings) as (flows, factory):
        with factory() as db:
            sent = request_reset(flows, db, args.email, requested_by="operator")
            db.commit()
        if not sent:
            print(f"error: no enabled account {args.email}", file=sys.stderr)
            return 1
        send_due(factory, flows.mail.transport, flows.clock)  # now, rather than at the server's next pass
        print(json.dumps({"email": args.email, "password_reset": "sent"}))
    return 0


def cmd_users_invite(args: argparse.Namespace, settings: Settings) -> int:
    """Invite someone into an organization (created if missing) and mail them the link."""
    from idp.accounts.invitations import invite
    from idp.accounts.service import create_organization, find_organization
    from idp.bootstrap import account_flows
    from idp.mail.sender import send_due
    from idp.oauth.models import Client

    with account_flows(settings) as (flows, factory):
        with factory() as db:
            if args.client and db.get(Client, args.client) is None:
                print(f"error: no client {args.client}", file=sys.stderr)
                return 1
            org = find_organization(db, args.organization) or create_organization(db, slug=args.organization)
            invitation = invite(flows, db, email=args.email, organization=org, role=args.role,
                                client_id=args.client)
            out = {"invitation_id": invitation.id, "email": invitation.email, "organization": org.slug,
                   "role": invitation.role, "expires_at": invitation.expires_at.isoformat()}
            db.commit()
        send_due(factory, flows.mail.transport, flows.clock)  # now, rather than at the server's next pass
        print(json.dumps(out))
    return 0


def cmd_users_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Mark the account's e-mail address verified (the operator vouches for it)."""
    from idp.accounts.service import find_user_by_email
    from idp.db import transaction

    with sql_sessions(settings) as factory, transaction(factory) as db:
        user = find_user_by_email(db, args.email)
        if user is None:
            print(f"error: no account {args.email}", file=sys.stderr)
            return 1
        user.email_verified = True
        print(json.dumps({"id": user.id, "email": user.email, "email_verified": True}))
    return 0


def register(sub: Commands) -> None:
    users = sub.add_parser("users").add_subparsers(dest="users_command", required=True)
    uc = users.add_parser("create", help="create a user")
    uc.add_argument("email")
    uc.add_argument("--name")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    uc.add_argument("--organization", help="organization slug (created if missing)")
    uc.add_argument("--role", default="member")
    uc.add_argument("--verified", action="store_true", help="mark the e-mail address verified")
    uc.add_argument("--admin", action="store_true", help="may open the activity dashboard")
    uc.set_defaults(handler=cmd_users_create)
    ua = users.add_parser("admin", help="let a user open the activity dashboard (or --revoke)")
    ua.add_argument("email")
    ua.add_argument("--revoke", action="store_true")
    ua.set_defaults(handler=cmd_users_admin)
    rf = users.add_parser("reset-factors", help="remove a user's authenticator app, recovery codes and passkeys")
    rf.add_argument("email")
    rf.set_defaults(handler=cmd_users_reset_factors)
    ur = users.add_parser("reset-password", help="mail the user a password reset link")
    ur.add_argument("email")
    ur.set_defaults(handler=cmd_users_reset_password)
    ui = users.add_parser("invite", help="invite someone into an organization by e-mail")
    ui.add_argument("email")
    ui.add_argument("--organization", required=True, help="organization slug (created if missing)")
    ui.add_argument("--role", choices=["member", "admin"], default="member")
    ui.add_argument("--client", help="client_id of the application to send the invitee on to")
    ui.set_defaults(handler=cmd_users_invite)
    uv = users.add_parser("verify", help="mark the user's e-mail address verified")
    uv.add_argument("email")
    uv.set_defaults(handler=cmd_users_verify)
