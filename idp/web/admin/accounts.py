"""/admin/api/v1/accounts: search, create, change, disable and enable end users' accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from idp.accounts import service
from idp.accounts.errors import AccountError, EmailTaken
from idp.accounts.models import Membership, Organization, User
from idp.oauth import account_status
from idp.web.admin import paging, schemas
from idp.web.admin.errors import BadRequest, Conflict
from idp.web.admin.routing import Call, Operation, Parameter

TAG = "accounts"
ACCOUNT_ID = Parameter("account_id", "path", {"type": "string"}, "the account's id", required=True)
QUERY = Parameter("q", "query", {"type": "string", "maxLength": 200},
                  "only accounts whose e-mail address or name contains this (case-insensitive)")
ACCOUNT_PAGE = paging.page_of("AccountPage", schemas.ACCOUNT)


def timestamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def account_json(user: User, memberships: list[tuple[Organization, Membership]], now: datetime) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "created_at": timestamp(user.created_at),
        "last_sign_in_at": timestamp(user.last_sign_in_at),
        "disabled": user.disabled,
        "locked": service.is_locked(user, now),
        "organizations": [{"id": org.id, "slug": org.slug, "role": m.role} for org, m in memberships],
    }


def load(call: Call, user: User) -> dict[str, Any]:
    call.db.flush()
    return account_json(user, service.memberships_of(call.db, [user.id])[user.id], call.c.clock.now())


def email(value: str) -> str:
    try:
        return service.normalize_email(value)
    except AccountError as err:
        raise BadRequest(str(err), "email") from err


def list_accounts(call: Call) -> dict[str, Any]:
    offset, limit = paging.window(call)
    users, total = service.search_users(call.db, call.query.get("q", ""), offset=offset, limit=limit)
    memberships = service.memberships_of(call.db, [u.id for u in users])
    return paging.page(call, [account_json(u, memberships[u.id], call.c.clock.now()) for u in users], total)


def create_account(call: Call) -> dict[str, Any]:
    body = call.body
    address = email(body["email"])
    organizations: list[tuple[Organization, str]] = []
    for index, item in enumerate(body.get("organizations", [])):
        org = service.find_organization(call.db, item["organization"])
        if org is None:
            raise BadRequest(f"no organization {item['organization']!r}", f"organizations[{index}].organization")
        if any(org.id == earlier.id for earlier, _ in organizations):  # by id or slug: one role each
            raise BadRequest(f"organizations[{index}] repeats organization {org.slug!r}", f"organizations[{index}]")
        organizations.append((org, item.get("role", "member")))
    try:
        user = service.create_user(call.db, email=address, password=body.get("password"),
                                   name=body.get("name", ""), email_verified=body.get("email_verified", False),
                                   password_min_length=call.c.settings.password_min_length)
    except EmailTaken as err:
        raise Conflict(str(err), "email") from err
    for org, role in organizations:
        service.add_member(call.db, user, org, role)
    return load(call, user)


def get_account(call: Call) -> dict[str, Any]:
    return load(call, service.get_user(call.db, call.path["account_id"]))


def update_account(call: Call) -> dict[str, Any]:
    user = service.get_user(call.db, call.path["account_id"])
    body = call.body
    service.update_user(call.db, user, email=email(body["email"]) if "email" in body else None,
                        name=body.get("name"), email_verified=body.get("email_verified"),
                        password=body.get("password"), password_min_length=call.c.settings.password_min_length)
    if body.get("disabled") is True:
        _disable(call, user)
    elif body.get("disabled") is False:
        account_status.enable_account(user)
    return load(call, user)


def disable_account(call: Call) -> dict[str, Any]:
    user = service.get_user(call.db, call.path["account_id"])
    _disable(call, user)
    return load(call, user)


def _disable(call: Call, user: User) -> None:
    """Sign-in refused, login sessions ended, and every grant revoked (``idp.oauth.account_status``)."""
    account_status.disable_account(call.db, user)


def enable_account(call: Call) -> dict[str, Any]:
    user = service.get_user(call.db, call.path["account_id"])
    account_status.enable_account(user)
    return load(call, user)


def send_password_reset(call: Call) -> dict[str, Any]:
    from idp.accounts.recovery import request_reset

    user = service.get_user(call.db, call.path["account_id"])
    if not request_reset(call.c.accounts, call.db, user.email, requested_by="operator"):
        raise BadRequest("the account is disabled: enable it first")
    return load(call, user)


OPERATIONS = [
    Operation("GET", "/accounts", list_accounts, "listAccounts", "Search accounts", TAG, ACCOUNT_PAGE,
              parameters=(QUERY, *paging.PARAMETERS),
              description="Accounts in order of creation, optionally filtered by e-mail address or name."),
    Operation("POST", "/accounts", create_account, "createAccount", "Create an account", TAG, schemas.ACCOUNT,
              status=201, body=schemas.ACCOUNT_CREATE, conflict=True, response_description="Created",
              description="Creates the account and, if given, its memberships in one step. 409 when the "
                          "e-mail address is taken."),
    Operation("GET", "/accounts/{account_id}", get_account, "getAccount", "Get an account", TAG, schemas.ACCOUNT,
              parameters=(ACCOUNT_ID,)),
    Operation("PATCH", "/accounts/{account_id}", update_account, "updateAccount", "Change an account", TAG,
              schemas.ACCOUNT, body=schemas.ACCOUNT_UPDATE, parameters=(ACCOUNT_ID,), conflict=True,
              description="Changes only the fields given. 409 when the new e-mail address is taken."),
    Operation("POST", "/accounts/{account_id}/disable", disable_account, "disableAccount", "Disable an account",
              TAG, schemas.ACCOUNT, parameters=(ACCOUNT_ID,),
              description="The account can no longer sign in; its login sessions end and its tokens stop "
                          "working."),
    Operation("POST", "/accounts/{account_id}/enable", enable_account, "enableAccount", "Enable an account", TAG,
              schemas.ACCOUNT, parameters=(ACCOUNT_ID,),
              description="The account may sign in again; a lockout after failed sign-ins is lifted too."),
    Operation("POST", "/accounts/{account_id}/password-reset", send_password_reset, "sendPasswordReset",
              "Mail a password reset link", TAG, schemas.ACCOUNT, parameters=(ACCOUNT_ID,),
              description="Mails the account a single-use link (30 minutes) to choose a new password, as "
                          "\"Forgot password?\" does. 400 when the account is disabled. Mark an address verified "
                          "with PATCH {\"email_verified\": true}."),
]
