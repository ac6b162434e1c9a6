"""What an account's owner is told by mail about changes to how their account signs in.

- ``factor_changed``: a second factor was added or removed, new recovery codes were made, or an operator reset
  them all (``reset``). Whoever made the
  change was signed in as the owner; if it was not the owner, this mail is how they learn someone is.
- ``address_taken``: someone signed in to another account asked to move it to this address. The person who asked
  is answered as for a free address (the page tells nobody which addresses have accounts); the owner is told.
- ``remaining_factors``: what the password-changed mail names as still set up, since a new password does not
  remove second factors (a passkey still signs in without any password).

Each message is queued in the caller's transaction: a change that is rolled back tells nobody.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.factors import policy
from idp.accounts.models import User
from idp.mail import Mailer

FACTOR_CHANGES = ("totp_added", "totp_removed", "passkey_added", "passkey_removed", "recovery_codes", "reset")


def factor_changed(mail: Mailer, db: Session, user: User, change: str, name: str = "") -> None:
    """``change`` is one of ``FACTOR_CHANGES``; ``name`` is the passkey's, for a passkey."""
    if change not in FACTOR_CHANGES:
        raise ValueError(f"unknown change {change!r}")
    mail.send("factor_changed", user.email, {"change": change, "name": name}, db=db)


def address_taken(mail: Mailer, db: Session, address: str) -> None:
    mail.send("email_change_existing", address, {}, db=db)


def remaining_factors(db: Session, user_id: str) -> list[str]:
    """The second factors set up on the account, as the mail names them ("an authenticator app", "2 passkeys")."""
    has = policy.factors_of(db, user_id)
    named = ["an authenticator app"] if has.totp else []
    if has.passkeys:
        named.append("a passkey" if has.passkeys == 1 else f"{has.passkeys} passkeys")
    return named
