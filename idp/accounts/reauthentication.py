"""Recent authentication: the proof a change to how an account signs in needs.

Adding or removing a second factor or making new recovery codes changes who can sign in, so a session alone is not
enough for it: whoever stole the session cookie could otherwise add a passkey of their own, which signs in
without the password and outlives a password reset. Such a change needs a session whose authentication is at
most ``WINDOW`` old. An older session confirms it is its owner again — the password (counted toward the
lockout: ``idp.accounts.login.confirm_password``), then a second factor when the account has one — and that
confirmation becomes the session's authentication (``renew``): its ``auth_time``, ``amr`` and ``acr`` are what
was just proven, as after a new sign-in (OpenID Connect Core §2: the time and the methods of the
authentication).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from idp.accounts.factors.levels import acr_of, amr_of
from idp.accounts.models import LoginSession

WINDOW = timedelta(minutes=10)
"""How long after a sign-in (or a confirmation) the session may change second factors without confirming.
GitHub's "sudo mode" and Keycloak's re-authentication use minutes, not hours: long enough for one sitting."""


def is_recent(session: LoginSession, now: datetime) -> bool:
    return now - session.auth_time <= WINDOW


def renew(session: LoginSession, methods: Sequence[str], now: datetime) -> None:
    """The owner authenticated again at ``now`` by ``methods`` (RFC 8176 values): the session says so."""
    amr = amr_of(methods)
    session.auth_time = now
    session.amr = " ".join(amr)
    session.acr = acr_of(amr)
