"""Self sign-up (``CANARY_SIGNUP``): off by default; ``open``; or ``domains:a.com,b.com`` for addresses at
those domains only. The account is usable once its address is verified: until then it has no password (the
chosen one waits in the verification link). Signing up with an address that has an account mails its owner
instead, and the person signing up sees the same answer either way. Attempts are throttled per client
address (``idp.accounts.throttle``, in SQL: every worker and node counts against one limit)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.errors import AccountError
from idp.accounts.flows import AccountFlows
from idp.accounts.models import User
from idp.accounts.password_rules import check_password
from idp.accounts.passwords import hash_password
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


def sign_up(flows: AccountFlows, db: Session, *, email: str, name: str, password: str, back: str = "") -> None:
    """Create the account (unverified, no password yet) and mail the verification link. Raises SignupClosed,
    AccountError (a bad address) or WeakPassword; an address with an account gets a mail to its owner."""
    if flows.policy.signup == "off":
        raise SignupClosed("sign-up is closed")
    address = normalize_email(email)
    if not allowed(flows, address):
        raise SignupClosed(f"sign-up is open to addresses at {', '.join(flows.policy.signup_domains)} only")
    check_password(password, min_length=flows.policy.password_min_length, email=address, name=name)
    user = find_user_by_email(db, address)
    if user is not None and (user.password_hash is not None or user.email_verified
                             or organization_ids(db, user.id)):
        # An account in use, or one an invitation made: its owner is told (and can reset the password).
        flows.mail.send("signup_existing", address, {}, db=db)
        return
    if user is None:
        user = User(email=address, name=name.strip()[:200], email_verified=False, password_hash=None)
        db.add(user)
        db.flush()
        flows.events.account_signed_up(db, user.id)
    else:  # an earlier sign-up never verified: the latest one's name and password count
        user.name = name.strip()[:200]
    send_verification(flows, db, user, password_hash=hash_password(password), back=back)
