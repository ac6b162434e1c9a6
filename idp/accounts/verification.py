"""E-mail verification: ``email_verified`` becomes true only when the link mailed to the address is followed.
A change of address is a verification of the new address: the account keeps the old one until the link
mailed to the new one is followed. A sign-up's password waits in the link's row and is set then."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import links
from idp.accounts.errors import EmailTaken
from idp.accounts.flows import AccountFlows
from idp.accounts.links import InvalidLink
from idp.accounts.models import User
from idp.accounts.service import normalize_email

VERIFY_PATH = "/email/verify"


def send_verification(flows: AccountFlows, db: Session, user: User, email: str | None = None, *,
                      password_hash: str | None = None, back: str = "") -> None:
    """Mail a verification link to ``email`` (default: the account's address). ``back`` (an authorization
    request's query) rides on the link so that the page can offer the way back to the application."""
    address = normalize_email(email or user.email)
    if address != user.email and db.scalar(select(User.id).where(User.email == address)) is not None:
        raise EmailTaken(f"an account with {address} exists")
    ttl = timedelta(seconds=flows.policy.verification_ttl)
    token = links.issue(db, user, links.VERIFY_EMAIL, address, ttl, flows.clock.now(), password_hash)
    link = flows.link(VERIFY_PATH, token)
    if back:
        from urllib.parse import quote

        link += f"&authorization_request={quote(back, safe='')}"
    flows.mail.send("verify_email", address, {"link": link, "hours": flows.policy.verification_ttl // 3600},
                    db=db)


def pending_address(flows: AccountFlows, db: Session, token: str) -> str | None:
    """The address a live verification link proves (the link is not spent)."""
    row = links.find(db, token, links.VERIFY_EMAIL, flows.clock.now())
    return None if row is None else row.email


def verify(flows: AccountFlows, db: Session, token: str) -> User:
    """Spend the link: the address it names becomes the account's, verified. Raises InvalidLink, or EmailTaken
    when another account took the address meanwhile."""
    row = links.spend(db, token, links.VERIFY_EMAIL, flows.clock.now())
    user = None if row is None else db.get(User, row.user_id)
    if row is None or user is None or user.disabled:
        raise InvalidLink("this link has expired or was already used")
    if row.email != user.email:
        if db.scalar(select(User.id).where(User.email == row.email, User.id != user.id)) is not None:
            raise EmailTaken(f"an account with {row.email} exists")
        flows.mail.send("email_changed", user.email, {"new_email": row.email}, db=db)  # the old address is told
        user.email = row.email
    if row.password_hash is not None and user.password_hash is None:
        user.password_hash = row.password_hash
    user.email_verified = True
    flows.events.email_verified(db, user.id)
    return user
