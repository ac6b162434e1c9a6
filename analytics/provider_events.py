"""The names of the events the provider records about itself (source ``idp``): sign-ins, tokens, sign-outs,
second factors enrolled and removed, and account changes (invitations, sign-ups, verified addresses,
password resets and changes).

They are stored in ClickHouse, and the ``daily_activity`` view selects by them: renaming one splits history.
``ACTIVITY`` is what counts as a user being active; a failed or throttled sign-in, a sign-out or an account
change does not (an invitation is sent by someone else; the sign-in that follows a reset or a sign-up counts).

``signin.failed`` carries a ``reason``: ``bad_password``, ``unknown_user``, ``locked``, ``disabled`` (and, with
second factors, ``bad_second_factor``). ``signin.throttled`` carries the ``limit`` that refused (``signin-address``,
``signin-account``, ``client-address``, ``client``, ``signup-address``, ``reset-address``) and the ``endpoint``
(``login``, ``token``, ``introspect``, ``signup``, ``password_reset``).
"""

from __future__ import annotations

from typing import Final

SIGNIN_SUCCEEDED: Final = "signin.succeeded"
SIGNIN_FAILED: Final = "signin.failed"
TOKEN_ISSUED: Final = "token.issued"
TOKEN_REFRESHED: Final = "token.refreshed"
SIGNOUT: Final = "signout"
MFA_ENROLLED: Final = "mfa.enrolled"
MFA_REMOVED: Final = "mfa.removed"
SIGNIN_THROTTLED: Final = "signin.throttled"
ACCOUNT_INVITED: Final = "account.invited"
ACCOUNT_SIGNED_UP: Final = "account.signed_up"
EMAIL_VERIFIED: Final = "email.verified"
PASSWORD_RESET_REQUESTED: Final = "password.reset_requested"
PASSWORD_CHANGED: Final = "password.changed"

ALL: Final = (SIGNIN_SUCCEEDED, SIGNIN_FAILED, TOKEN_ISSUED, TOKEN_REFRESHED, SIGNOUT, MFA_ENROLLED, MFA_REMOVED,
              ACCOUNT_INVITED, ACCOUNT_SIGNED_UP, EMAIL_VERIFIED, PASSWORD_RESET_REQUESTED, PASSWORD_CHANGED,
              SIGNIN_THROTTLED)
ACTIVITY: Final = (SIGNIN_SUCCEEDED, TOKEN_ISSUED, TOKEN_REFRESHED)
