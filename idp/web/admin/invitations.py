"""/admin/api/v1/organizations/{organization}/invitations: invite people into an organization, list, resend
and revoke invitations. The rules are ``idp.accounts.invitations``'s."""

from __future__ import annotations

from typing import Any

from idp.accounts import invitations
from idp.accounts.models import Invitation
from idp.oauth.models import Client
from idp.web.admin import paging
from idp.web.admin.accounts import timestamp
from idp.web.admin.errors import BadRequest
from idp.web.admin.organizations import ORGANIZATION, find
from idp.web.admin.routing import Call, Operation, Parameter
from idp.web.admin.schemas import OPTIONAL_TIMESTAMP, TIMESTAMP, define, obj, string

TAG = "organizations"
INVITATION_ID = Parameter("invitation_id", "path", {"type": "string"}, "the invitation's id", required=True)
INVITATION = define("Invitation", obj({
    "id": string(), "email": string(format="email"), "account_id": string(), "organization_id": string(),
    "role": string(enum=list(invitations.ROLES)), "client_id": {"type": ["string", "null"]},
    "status": string(enum=["pending", "accepted", "revoked", "expired"]),
    "created_at": TIMESTAMP, "expires_at": TIMESTAMP, "accepted_at": OPTIONAL_TIMESTAMP,
    "revoked_at": OPTIONAL_TIMESTAMP,
}))
INVITATION_CREATE = define("InvitationCreate", obj({
    "email": string(minLength=3, maxLength=320),
    "role": string(enum=list(invitations.ROLES), default="member"),
    "client_id": string("the application the invitee is sent on to after accepting", maxLength=64),
}, required=("email",)))
INVITATION_PAGE = paging.page_of("InvitationPage", INVITATION)


def invitation_json(invitation: Invitation, call: Call) -> dict[str, Any]:
    return {"id": invitation.id, "email": invitation.email, "account_id": invitation.user_id,
            "organization_id": invitation.organization_id, "role": invitation.role,
            "client_id": invitation.client_id, "status": invitations.status(invitation, call.c.clock.now()),
            "created_at": timestamp(invitation.created_at), "expires_at": timestamp(invitation.expires_at),
            "accepted_at": timestamp(invitation.accepted_at), "revoked_at": timestamp(invitation.revoked_at)}


def create_invitation(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    client_id = call.body.get("client_id")
    if client_id is not None and call.db.get(Client, client_id) is None:
        raise BadRequest(f"no client {client_id!r}", "client_id")
    invitation = invitations.invite(call.c.accounts, call.db, email=call.body["email"], organization=org,
                                    role=call.body.get("role", "member"), client_id=client_id)
    return invitation_json(invitation, call)


def list_invitations(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    offset, limit = paging.window(call)
    rows, total = invitations.invitations_page(call.db, org, offset=offset, limit=limit)
    return paging.page(call, [invitation_json(i, call) for i in rows], total)


def resend_invitation(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    invitation = invitations.get(call.db, call.path["invitation_id"], org)
    invitations.resend(call.c.accounts, call.db, invitation)
    return invitation_json(invitation, call)


def revoke_invitation(call: Call) -> dict[str, Any]:
    org = find(call.db, call.path["organization"])
    invitation = invitations.get(call.db, call.path["invitation_id"], org)
    invitations.revoke(call.c.accounts, call.db, invitation)
    return invitation_json(invitation, call)


BASE = "/organizations/{organization}/invitations"
OPERATIONS = [
    Operation("POST", BASE, create_invitation, "createInvitation", "Invite someone", TAG, INVITATION, status=201,
              body=INVITATION_CREATE, parameters=(ORGANIZATION,), response_description="Created",
              description="Mails a single-use link (valid CANARY_INVITATION_TTL seconds, 7 days by default). The "
                          "account is made if missing, with a membership in state `invited` until accepted. 400 "
                          "when the address is already an active member."),
    Operation("GET", BASE, list_invitations, "listInvitations", "List invitations", TAG, INVITATION_PAGE,
              parameters=(ORGANIZATION, *paging.PARAMETERS), description="Newest first, in every status."),
    Operation("POST", BASE + "/{invitation_id}/resend", resend_invitation, "resendInvitation",
              "Resend an invitation", TAG, INVITATION, parameters=(ORGANIZATION, INVITATION_ID),
              description="A new link and a new expiry; the previous link stops working. 400 unless pending "
                          "or expired."),
    Operation("POST", BASE + "/{invitation_id}/revoke", revoke_invitation, "revokeInvitation",
              "Revoke an invitation", TAG, INVITATION, parameters=(ORGANIZATION, INVITATION_ID),
              description="The link stops working and the membership still in state `invited` is removed. "
                          "400 when it was accepted."),
]
