"""Invitations into organizations. Inviting an address makes (or finds) its account and a membership in state
``invited`` with ``invited_at``, and mails a single-use link (7 days by default, only its SHA-256 stored).
Following the link, a person without a password sets their name and one; a person with an account signs in
with it. Either way the membership becomes ``active`` and the address is verified (the link proved it).
An invitation can be resent (a new link; the old one stops working) or revoked (the invited membership goes,
unless a later invitation of the same person is pending)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from idp.accounts.errors import AccountError, NotFound, SignInFailed
from idp.accounts.flows import AccountFlows
from idp.accounts.links import InvalidLink
from idp.accounts.models import Invitation, Membership, Organization, User
from idp.accounts.password_rules import check_password
from idp.accounts.passwords import hash_password
from idp.accounts.service import LoginPolicy, authenticate, find_membership, find_user_by_email, normalize_email
from idp.opaque import digest, new_secret

ACCEPT_PATH = "/invitations/accept"
ROLES = ("member", "admin")


def status(invitation: Invitation, now: datetime) -> str:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    return "expired" if invitation.expires_at <= now else "pending"


def _mail(flows: AccountFlows, db: Session, invitation: Invitation, org: Organization) -> None:
    token = new_secret()
    now = flows.clock.now()
    invitation.token_hash = digest(token)
    invitation.expires_at = now + timedelta(seconds=flows.policy.invitation_ttl)
    flows.mail.send("invitation", invitation.email, {
        "organization": org.name or org.slug, "link": flows.link(ACCEPT_PATH, token),
        "expires": invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")}, db=db)


def invite(flows: AccountFlows, db: Session, *, email: str, organization: Organization, role: str = "member",
           client_id: str | None = None) -> Invitation:
    """Invite ``email`` into ``organization`` and mail the link. An active member cannot be invited again;
    a pending invitation of the same person is replaced."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    address = normalize_email(email)
    now = flows.clock.now()
    user = find_user_by_email(db, address)
    if user is None:
        user = User(email=address, name="", email_verified=False, password_hash=None)
        db.add(user)
        db.flush()
    membership = find_membership(db, user.id, organization.id)
    if membership is not None and membership.state == "active":
        raise AccountError(f"{address} is already a member of {organization.slug}")
    if membership is None:
        membership = Membership(user_id=user.id, organization_id=organization.id, role=role, state="invited",
                                invited_at=now, created_at=now)
        db.add(membership)
    membership.role, membership.invited_at = role, now
    for earlier in db.scalars(select(Invitation).where(Invitation.user_id == user.id,
                                                       Invitation.organization_id == organization.id,
                                                       Invitation.accepted_at.is_(None),
                                                       Invitation.revoked_at.is_(None))):
        earlier.revoked_at = now
    invitation = Invitation(email=address, user_id=user.id, organization_id=organization.id, role=role,
                            client_id=client_id, created_at=now, expires_at=now, token_hash="")
    db.add(invitation)
    _mail(flows, db, invitation, organization)
    db.flush()
    flows.events.account_invited(db, user.id, organization.id)
    return invitation


def get(db: Session, invitation_id: str, organization: Organization | None = None) -> Invitation:
    invitation = db.get(Invitation, invitation_id)
    if invitation is None or (organization is not None and invitation.organization_id != organization.id):
        raise NotFound(f"no invitation {invitation_id}")
    return invitation


def resend(flows: AccountFlows, db: Session, invitation: Invitation) -> None:
    """A new link (the old one stops working) and a new expiry, mailed again."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise AccountError(f"the invitation is {status(invitation, flows.clock.now())}: invite again instead")
    org = db.get(Organization, invitation.organization_id)
    assert org is not None
    _mail(flows, db, invitation, org)


def revoke(flows: AccountFlows, db: Session, invitation: Invitation) -> None:
    """The link stops working, and the person's membership still in state ``invited`` goes unless another
    invitation of theirs into the organization is pending. An invitation already revoked (or replaced by a
    later one, which revokes it) stays as it is, and so does everything else: the membership is the later
    invitation's."""
    if invitation.accepted_at is not None:
        raise AccountError("the invitation was accepted: remove the member instead")
    if invitation.revoked_at is not None:
        return
    now = flows.clock.now()
    invitation.revoked_at = now
    other = db.scalar(select(Invitation.id).where(Invitation.user_id == invitation.user_id,
                                                  Invitation.organization_id == invitation.organization_id,
                                                  Invitation.id != invitation.id,
                                                  Invitation.accepted_at.is_(None),
                                                  Invitation.revoked_at.is_(None),
                                                  Invitation.expires_at > now).limit(1))
    if other is None:
        db.execute(delete(Membership).where(Membership.user_id == invitation.user_id,
                                            Membership.organization_id == invitation.organization_id,
                                            Membership.state == "invited"))


def find_live(flows: AccountFlows, db: Session, token: str) -> Invitation | None:
    if not token or len(token) > 128:
        return None
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if invitation is None or status(invitation, flows.clock.now()) != "pending":
        return None
    return invitation


def accept(flows: AccountFlows, db: Session, token: str, *, password: str, name: str = "") -> tuple[User, Invitation]:
    """Accept with the account's password, or — for an account without one — with a new password and name.
    Raises InvalidLink, WeakPassword, or AccountError("wrong password")."""
    invitation = find_live(flows, db, token)
    user = None if invitation is None else db.get(User, invitation.user_id)
    if invitation is None or user is None or user.disabled:
        raise InvalidLink("this invitation has expired, was revoked or was already accepted")
    if user.password_hash is None:
        check_password(password, min_length=flows.policy.password_min_length, email=user.email, name=name)
        user.password_hash = hash_password(password)
        user.name = name.strip()[:200] or user.name
    else:  # the account's own password, counted like a sign-in (failures lock the account)
        policy = LoginPolicy(flows.policy.login_max_failures, flows.policy.login_lock_seconds)
        try:
            authenticate(db, user.email, password, policy, flows.clock.now())
        except SignInFailed as failed:
            db.commit()  # failure counters and lockout
            if failed.reason == "locked":
                raise AccountError("this account is locked for a while after too many attempts") from failed
            raise AccountError("wrong password") from failed
    now = flows.clock.now()
    user.email_verified = True
    invitation.accepted_at = now
    membership = find_membership(db, user.id, invitation.organization_id)
    if membership is None:
        membership = Membership(user_id=user.id, organization_id=invitation.organization_id, role=invitation.role,
                                invited_at=invitation.created_at, created_at=now)
        db.add(membership)
    membership.state = "active"
    db.flush()
    return user, invitation


def invitations_page(db: Session, organization: Organization, *, offset: int = 0, limit: int = 50
                     ) -> tuple[list[Invitation], int]:
    stmt = select(Invitation).where(Invitation.organization_id == organization.id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(Invitation.created_at.desc(), Invitation.id).offset(offset).limit(limit))
    return list(rows), total


def seat_uptake(db: Session, organization_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per organization: (members who accepted an invitation, people invited), over every invitation not
    revoked."""
    out = {org_id: (0, 0) for org_id in organization_ids}
    if not organization_ids:
        return out
    rows = db.execute(select(Invitation.organization_id, func.count(Invitation.accepted_at), func.count())
                      .where(Invitation.organization_id.in_(organization_ids), Invitation.revoked_at.is_(None))
                      .group_by(Invitation.organization_id)).tuples()
    out.update({org_id: (int(accepted), int(invited)) for org_id, accepted, invited in rows})
    return out
