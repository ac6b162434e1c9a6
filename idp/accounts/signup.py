"""Self sign-up (``CANARY_SIGNUP``): off by default; ``open``; or ``domains:a.com,b.com`` for addresses at
those domains only. A sign-up gives nothing but the address: the account is made (unverified, without a name or
a password) and the verification link mailed; whoever follows the link — the mailbox's holder — chooses the name
and the password there (``idp.accounts.verification``). Nothing else a sign-up request carries reaches the
account, so signing up someone else's address first, or again, gains the one who did it nothing. Signing up
with an address that has an account mails its owner instead, and the person signing up sees the same answer
either way. Attempts are throttled per client address (``idp.accounts.throttle``, in SQL: every worker and
node counts against one limit)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.errors import AccountError
from idp.accounts.flows import AccountFlows
from idp.accounts.models import User
from idp.accounts.service import find_user_by_email, normalize_email, organization_ids
from idp.accounts.verification import send_verification


class SignupClosed(AccountError):
    code = "signup_closed"


def allowed(flows: AccountFlows, email: str) -> bool:
    """Whether the sign-up setting lets this address sign up."""
    if flows.policy.signup == "open":
        return True
    domain = email.rpartition("@")[2].lower()
    return domain in flows.policy.signup_domains


def admitted_address(flows: AccountFlows, email: str) -> str:
    """The normalized address, if the setting lets it sign up. Raises SignupClosed or AccountError (not an
    address). Reads no account: what it answers, and when, does not depend on whether the address has one."""
    if flows.policy.signup == "off":
        raise SignupClosed("sign-up is closed")
    address = normalize_email(email)
    if not allowed(flows, address):
        raise SignupClosed(f"sign-up is open to addresses at {', '.join(flows.policy.signup_domains)} only")
    return address


def sign_up(flows: AccountFlows, db: Session, *, email: str, back: str = "") -> None:
    """Make the account (unverified, no name, no password) if the address has none and mail it the verification
    link; an address with an account in use gets a mail to its owner. Raises what ``admitted_address`` raises."""
    address = admitted_address(flows, email)
    user = find_user_by_email(db, address)
    if user is not None and (user.password_hash is not None or user.email_verified
                             or organization_ids(db, user.id)):
        # An account in use, or one an invitation made: its owner is told (and can reset the password).
        flows.mail.send("signup_existing", address, {}, db=db)
        return
    if user is None:
        user = User(email=address, name="", email_verified=False, password_hash=None)
        db.add(user)
        db.flush()
        flows.events.account_signed_up(db, user.id)
    # An earlier sign-up never verified: a new link, and the earlier one stops working. Whoever follows it still
    # has to prove the mailbox, and chooses the name and the password then.
    send_verification(flows, db, user, back=back)
