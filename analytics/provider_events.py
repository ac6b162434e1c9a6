"""The names of the events the provider records about itself (source ``idp``): sign-ins, tokens, sign-outs,
second factors enrolled and removed.

They are stored in ClickHouse, and the ``daily_activity`` view selects by them: renaming one splits history.
``ACTIVITY`` is what counts as a user being active; a failed or throttled sign-in or a sign-out does not.

``signin.failed`` carries a ``reason``: ``bad_password``, ``unknown_user``, ``locked``, ``disabled`` (and, with
second factors, ``bad_second_factor``). ``signin.throttled`` carries the ``limit`` that refused (``signin-address``,
``signin-account``, ``client-address``, ``client``) and the ``endpoint`` (``login``, ``token``, ``introspect``).
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

ALL: Final = (SIGNIN_SUCCEEDED, SIGNIN_FAILED, TOKEN_ISSUED, TOKEN_REFRESHED, SIGNOUT, MFA_ENROLLED, MFA_REMOVED,
              SIGNIN_THROTTLED)
ACTIVITY: Final = (SIGNIN_SUCCEEDED, TOKEN_ISSUED, TOKEN_REFRESHED)
