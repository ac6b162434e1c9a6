"""`canary users …`: create, list, show, disable, enable and delete accounts; let one open the dashboard."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from idp.bootstrap import sql_sessions
from idp.cli import arguments
from idp.cli.command import Commands
from idp.cli.output import json_option, print_record, print_rows
from idp.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from idp.accounts.models import User

COLUMNS = (("id", "id"), ("email", "email"), ("name", "name"), ("organizations", "organizations"),
           ("admin", "is_admin"), ("disabled", "disabled"), ("created", "created_at"))


def user_dict(db: Session, user: User) -> dict[str, Any]:
    from idp.accounts.service import memberships_of

    orgs = memberships_of(db, [user.id])[user.id]
    return {"id": user.id, "email": user.email, "name": user.name, "email_verified": user.email_verified,
            "organizations": [org.slug for org, _ in orgs],
            "organization_id": orgs[0][0].id if len(orgs) == 1 else None,
            "is_admin": user.is_admin, "disabled": user.disabled, "created_at": user.created_at,
            "last_sign_in_at": user.last_sign_in_at}


def find(db: Session, reference: str) -> User:
    """The account with this e-mail address or id, or AccountError (NotFound)."""
    from idp.accounts.errors import NotFound
    from idp.accounts.models import User
    from idp.accounts.service import find_user_by_email

    user = find_user_by_email(db, reference) if "@" in reference else db.get(User, reference)
    if user is None:
        raise NotFound(f"no account {reference}")
    return user


def _password(args: argparse.Namespace) -> str | None:
    """The new account's password, from stdin or asked twice on the terminal; None (after saying why) when
    there is none to be had."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        print("error: no terminal to ask for the password on: pipe it in with --password-stdin", file=sys.stderr)
        return None
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat: "):
            print("error: the passwords differ", file=sys.stderr)
            return None
    if not password:
        print("error: the password is empty; for an account without a password use `canary users invite`, or "
              "create it with one and send `canary users reset-password`", file=sys.stderr)
        return None
    return password


def _check_membership(args: argparse.Namespace) -> str | None:
    """What is wrong with --organization and --role, as the admin API would say it; None when nothing is."""
    from idp.web.admin import schemas
    from idp.web.admin.validation import Invalid, validate

    if args.role is not None and not args.organization:
        return "--role needs --organization"
    if not args.organization:
        return None
    try:
        validate(schemas.MEMBERSHIP_INPUT, {"organization": args.organization, "role": args.role or "member"},
                 schemas.resolve)
    except Invalid as invalid:
        return f"--{invalid.field} {invalid.message}"
    return None


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import add_member, create_organization, create_user, find_organization
    from idp.db import transaction

    refused = _check_membership(args)
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    password = _password(args)
    if password is None:
        return 2
    with sql_sessions(settings) as factory, transaction(factory) as db:
        user = create_user(db, email=args.email, password=password, name=args.name or "",
                           email_verified=args.verified, password_min_length=settings.password_min_length)
        user.is_admin = args.admin
        if args.organization:
            org = find_organization(db, args.organization) or create_organization(db, slug=args.organization)
            add_member(db, user, org, args.role or "member")
        created = user_dict(db, user)
    print_record(created, args.json)  # once committed: a reader gone away cannot undo the account
    return 0


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts.service import search_users

    with sql_sessions(settings) as factory, factory() as db:
        users, _total = search_users(db, args.query or "", limit=args.limit)
        rows = [user_dict(db, user) for user in users]
    print_rows(rows, COLUMNS, args.json)
    return 0


def cmd_users_show(args: argparse.Namespace, settings: Settings) -> int:
    with sql_sessions(settings) as factory, factory() as db:
        print_record(user_dict(db, find(db, args.account)), args.json)
    return 0


def cmd_users_change(args: argparse.Namespace, settings: Settings) -> int:
    """disable, enable, delete and admin: one account changed in one transaction, shown once committed."""
    from idp.accounts.deletion import delete_user
    from idp.accounts.service import disable_user, enable_user
    from idp.db import transaction
    from idp.oauth.tokens import TokenService

    with sql_sessions(settings) as factory, transaction(factory) as db:
        user = find(db, args.account)
        if args.users_command == "delete":
            if not args.yes:
                print(f"error: deleting {user.email} cannot be undone: add --yes", file=sys.stderr)
                return 2
            delete_user(db, user)
            changed = None
        else:
            if args.users_command == "disable":
                # As the admin API does: sign-in refused, sessions ended, grants revoked.
                disable_user(db, user)
                TokenService.revoke_user_grants(db, user.id)
            elif args.users_command == "enable":
                enable_user(user)
            else:
                user.is_admin = not args.revoke
            changed = user_dict(db, user)
        email = user.email
    if changed is None:
        print(f"deleted {email}")
    else:
        print_record(changed, args.json)
    return 0


def cmd_users_reset_factors(args: argparse.Namespace, settings: Settings) -> int:
    from idp.accounts import notices
    from idp.accounts.factors.policy import reset
    from idp.bootstrap import account_flows
    from idp.db import transaction
    from idp.mail.sender import send_due

    with account_flows(settings) as (flows, factory):
        with transaction(factory) as db:
            user = find(db, args.account)
            had = reset(db, user.id)
            if had.any or had.recovery_codes:
                notices.factor_changed(flows.mail, db, user, "reset")
            user_id, email = user.id, user.email
        send_due(factory, flows.mail.transport, flows.clock)  # now, rather than at the server's next pass
    removed = {"totp": had.totp, "passkeys": had.passkeys, "recovery_codes": had.recovery_codes}
    if args.json:
        print(json.dumps({"id": user_id, "email": email, "removed": removed}, indent=2))
    else:
        print_record({"id": user_id, "email": email, **{f"removed {k}": v for k, v in removed.items()}}, False)
    return 0


def warn_unset_issuer(settings: Settings) -> None:
    """Links in mail lead to the issuer. Without CANARY_ISSUER, that is where this command would listen
    (CANARY_HOST and CANARY_PORT), which need not be where people reach the server."""
    if not settings.issuer_given:
        print(f"warning: CANARY_ISSUER is not set: the link in the mail leads to {settings.issuer}; set "
              "CANARY_ISSUER to the URL people reach Canary at", file=sys.stderr)


def cmd_users_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    """Mail the account a password reset link, as "Forgot password?" does."""
    from idp.accounts.recovery import request_reset
    from idp.bootstrap import account_flows
    from idp.mail.sender import send_due

    warn_unset_issuer(settings)
    with account_flows(settings) as (flows, factory):
        with factory() as db:
            sent = request_reset(flows, db, args.email, requested_by="operator")
            db.commit()
        if not sent:
            print(f"error: no enabled account {args.email}", file=sys.stderr)
            return 1
        send_due(factory, flows.mail.transport, flows.clock)  # now, rather than at the server's next pass
        print_record({"email": args.email, "password_reset": "sent"}, args.json)
    return 0


def cmd_users_invite(args: argparse.Namespace, settings: Settings) -> int:
    """Invite someone into an organization (created if missing) and mail them the link."""
    from idp.accounts.invitations import invite
    from idp.accounts.service import create_organization, find_organization
    from idp.bootstrap import account_flows
    from idp.mail.sender import send_due
    from idp.oauth.models import Client

    warn_unset_issuer(settings)
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
        print_record(out, args.json)
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
        verified = {"id": user.id, "email": user.email, "email_verified": True}
    print_record(verified, args.json)
    return 0


def register(sub: Commands) -> None:
    users = sub.add_parser("users", help="end users' accounts").add_subparsers(
        dest="users_command", required=True, metavar="COMMAND")
    uc = users.add_parser("create", help="create an account (asks for the password)")
    uc.add_argument("email", help="the account's e-mail address")
    uc.add_argument("--name", help="display name")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin (without it, "
                    "asked on the terminal)")
    uc.add_argument("--organization", help="organization slug (created if missing)")
    uc.add_argument("--role", help="role in the --organization: lowercase letters, digits, _ and - (default: "
                    "member)")
    uc.add_argument("--verified", action="store_true", help="mark the e-mail address verified")
    uc.add_argument("--admin", action="store_true", help="may open the activity dashboard")
    json_option(uc)
    uc.set_defaults(handler=cmd_users_create)

    ul = users.add_parser("list", help="list accounts, oldest first")
    ul.add_argument("query", nargs="?", help="only accounts whose e-mail or name contains this")
    ul.add_argument("--limit", type=arguments.limit, default=1000, help="at most this many (default: 1000)")
    json_option(ul)
    ul.set_defaults(handler=cmd_users_list)

    us = users.add_parser("show", help="one account")
    us.add_argument("account", help="e-mail address or account id")
    json_option(us)
    us.set_defaults(handler=cmd_users_show)

    for name, text in (("disable", "refuse sign-in, end its sessions and revoke its tokens"),
                       ("enable", "allow sign-in again (lifts a lockout too)"),
                       ("delete", "delete the account, its memberships, sessions and tokens")):
        p = users.add_parser(name, help=text)
        p.add_argument("account", help="e-mail address or account id")
        if name == "delete":
            p.add_argument("--yes", action="store_true", help="confirm: deleting cannot be undone")
        json_option(p)
        p.set_defaults(handler=cmd_users_change)

    ua = users.add_parser("admin", help="let a user open the activity dashboard (or --revoke)")
    ua.add_argument("account", help="e-mail address or account id")
    ua.add_argument("--revoke", action="store_true", help="take the right away")
    json_option(ua)
    ua.set_defaults(handler=cmd_users_change)
    rf = users.add_parser("reset-factors", help="remove a user's authenticator app, recovery codes and passkeys")
    rf.add_argument("account", help="e-mail address or account id")
    json_option(rf)
    rf.set_defaults(handler=cmd_users_reset_factors)
    ur = users.add_parser("reset-password", help="mail the user a password reset link")
    ur.add_argument("email", help="the account's e-mail address")
    json_option(ur)
    ur.set_defaults(handler=cmd_users_reset_password)
    ui = users.add_parser("invite", help="invite someone into an organization by e-mail")
    ui.add_argument("email", help="e-mail address of the person to invite")
    ui.add_argument("--organization", required=True, help="organization slug (created if missing)")
    ui.add_argument("--role", choices=["member", "admin"], default="member", help="their role in the organization")
    ui.add_argument("--client", help="client_id of the application to send the invitee on to")
    json_option(ui)
    ui.set_defaults(handler=cmd_users_invite)
    uv = users.add_parser("verify", help="mark the user's e-mail address verified")
    uv.add_argument("email", help="the account's e-mail address")
    json_option(uv)
    uv.set_defaults(handler=cmd_users_verify)
