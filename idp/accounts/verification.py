"""E-mail verification: ``email_verified`` becomes true only when the link mailed to the address is followed.
A change of address is a verification of the new address: the account keeps the old one until the link
mailed to the new one is followed. An account without a password (one a sign-up made) is finished on the link's
page: following the link proves the address, so the name and the password typed there — by the mailbox's
holder, whoever signed the address up — become the account's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.accounts import links
from idp.accounts.errors import AccountError, EmailTaken
from idp.accounts.flows import AccountFlows
from idp.accounts.links import InvalidLink
from idp.accounts.models import AccountToken, User
from idp.accounts.password_rules import check_password
from idp.accounts.passwords import hash_password
from idp.accounts.service import normalize_email

VERIFY_PATH = "/email/verify"


class PasswordNeeded(AccountError):
    """The account has no password yet: following its link sets one."""

    code = "password_needed"


@dataclass(frozen=True)
class PendingLink:
    email: str  # the address the link proves
    choose_password: bool  # the account has no password: the link's page asks for a name and a password


def send_verification(flows: AccountFlows, db: Session, user: User, email: str | None = None, *,
                      back: str = "") -> None:
    """Mail a verification link to ``email`` (default: the account's address). ``back`` (an authorization
    request's query) rides on the link so that the page can offer the way back to the application."""
    address = normalize_email(email or user.email)
    if address != user.email and db.scalar(select(User.id).where(User.email == address)) is not None:
        raise EmailTaken(f"an account with {address} exists")
    ttl = timedelta(seconds=flows.policy.verification_ttl)
    token = links.issue(db, user, links.VERIFY_EMAIL, address, ttl, flows.clock.now())
    link = flows.link(VERIFY_PATH, token)
    if back:
        link += f"&authorization_request={quote(back, safe='')}"
    flows.mail.send("verify_email", address, {"link": link, "hours": flows.policy.verification_ttl // 3600,
                                              "choose_password": user.password_hash is None}, db=db)
    if address != user.email:  # the owner hears of a move when it is asked for, while a new password can stop it
        flows.mail.send("email_change_requested", user.email, {"new_email": address}, db=db)


def pending(flows: AccountFlows, db: Session, token: str) -> PendingLink | None:
    """What a live verification link is for (the link is not spent), or None."""
    row = links.find(db, token, links.VERIFY_EMAIL, flows.clock.now())
    user = None if row is None else db.get(User, row.user_id)
    if row is None or user is None or user.disabled:
        return None
    return PendingLink(email=row.email, choose_password=user.password_hash is None)


def verify(flows: AccountFlows, db: Session, token: str, *, name: str = "", password: str | None = None) -> User:
    """Spend the link: the address it names becomes the account's, verified. An account without a password
    takes ``password`` (under the rules of ``password_rules``) and ``name``; an account with one ignores them.
    Raises InvalidLink; PasswordNeeded or WeakPassword (the link stays usable); or EmailTaken when another
    account took the address meanwhile."""
    now = flows.clock.now()
    row = links.find(db, token, links.VERIFY_EMAIL, now)
    user = None if row is None else db.get(User, row.user_id)
    if row is None or user is None or user.disabled:
        raise InvalidLink("this link has expired or was already used")
    choosing = user.password_hash is None
    if choosing:
        if password is None:
            raise PasswordNeeded("choose a password for the account")
        check_password(password, min_length=flows.policy.password_min_length, email=row.email, name=name)
    if links.spend(db, token, links.VERIFY_EMAIL, now) is None:
        raise InvalidLink("this link has expired or was already used")
    if row.email != user.email:
        if db.scalar(select(User.id).where(User.email == row.email, User.id != user.id)) is not None:
            raise EmailTaken(f"an account with {row.email} exists")
        flows.mail.send("email_changed", user.email, {"new_email": row.email}, db=db)  # the old address is told
        user.email = row.email
        # Reset links mailed to the old address would no longer prove anything: spent with the move.
        db.execute(update(AccountToken).where(AccountToken.user_id == user.id,
                                              AccountToken.purpose == links.PASSWORD_RESET,
                                              AccountToken.used_at.is_(None)).values(used_at=now))
    if choosing and password is not None:
        user.password_hash = hash_password(password)
        user.name = name.strip()[:200]
    user.email_verified = True
    flows.events.email_verified(db, user.id)
    return user
