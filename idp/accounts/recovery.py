"""Passwords people forget and change: a reset link by mail (30 minutes, single use, the same answer whether
or not the address has an account), a new password after the rules of ``password_rules``, and after any
change every session ended, every refresh-token family revoked, every pending reset and change of address
cancelled, and a mail telling the owner."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from idp.accounts import links
from idp.accounts.errors import AccountError
from idp.accounts.flows import AccountFlows
from idp.accounts.links import InvalidLink
from idp.accounts.models import User
from idp.accounts.notices import remaining_factors
from idp.accounts.password_rules import check_password
from idp.accounts.passwords import hash_password, verify_password
from idp.accounts.service import find_user_by_email

RESET_PATH = "/password/reset"


class WrongPassword(AccountError):
    code = "wrong_password"


def request_reset(flows: AccountFlows, db: Session, email: str, *, requested_by: str = "user") -> bool:
    """Mail a reset link if an enabled account has this address; True if one was sent. Callers answer the
    same either way; a page answering anyone calls it once its answer is sent, so that the answer's time does
    not tell either (this costs more for an account than for none)."""
    user = find_user_by_email(db, email)
    if user is None or user.disabled:
        return False
    now = flows.clock.now()
    ttl = timedelta(seconds=flows.policy.reset_ttl)
    token = links.issue(db, user, links.PASSWORD_RESET, user.email, ttl, now)
    flows.mail.send("password_reset", user.email, {"link": flows.link(RESET_PATH, token),
                                                   "minutes": flows.policy.reset_ttl // 60}, db=db)
    flows.events.password_reset_requested(db, user.id, requested_by)
    return True


def reset_account(flows: AccountFlows, db: Session, token: str) -> User | None:
    """The account a live reset link is for (the link is not spent). A link mailed to an address the account no
    longer has is no proof of anything: None."""
    row = links.find(db, token, links.PASSWORD_RESET, flows.clock.now())
    user = None if row is None else db.get(User, row.user_id)
    return None if user is None or row is None or row.email != user.email else user


def reset_password(flows: AccountFlows, db: Session, token: str, password: str) -> User:
    """Spend the link and set the password. Raises InvalidLink, or WeakPassword (the link stays usable)."""
    now = flows.clock.now()
    user = reset_account(flows, db, token)
    if user is None or user.disabled:
        raise InvalidLink("this link has expired or was already used; ask for a new one")
    check_password(password, min_length=flows.policy.password_min_length, email=user.email, name=user.name)
    if links.spend(db, token, links.PASSWORD_RESET, now) is None:
        raise InvalidLink("this link has expired or was already used; ask for a new one")
    # Following the mailed link proves the address too.
    user.email_verified = True
    _set_password(flows, db, user, password, how="reset by e-mail")
    return user


def change_password(flows: AccountFlows, db: Session, user: User, current: str, new: str,
                    keep_session: str | None = None) -> None:
    """The signed-in user's own change: the current password is required. Every other session ends (the
    one whose ``id_hash`` is ``keep_session`` stays) and every grant is revoked."""
    if not verify_password(user.password_hash, current):
        raise WrongPassword("the current password is wrong")
    check_password(new, min_length=flows.policy.password_min_length, email=user.email, name=user.name)
    _set_password(flows, db, user, new, how="changed on the account page", keep_session=keep_session)


def _set_password(flows: AccountFlows, db: Session, user: User, password: str, how: str,
                  keep_session: str | None = None) -> None:
    now = flows.clock.now()
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    flows.sign_out_everywhere(db, user, now, keep=keep_session)
    links.spend_after_password(db, user, now)
    # A new password leaves the second factors in place (a passkey signs in without it): the mail names them.
    flows.mail.send("password_changed", user.email, {"how": how, "factors": remaining_factors(db, user.id)}, db=db)
    flows.events.password_changed(db, user.id, how)
