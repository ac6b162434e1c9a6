"""Usage events the provider records about itself: sign-ins, tokens, sign-outs.

The provider calls these hooks; they build ``analytics`` events and hand them over without waiting for the
spool's fsync (``Analytics.record_soon``): a sign-in or a token response does not wait on analytics. Token events
are built inside the token's transaction and handed over after it commits. Recording never breaks a sign-in: if
the spool refuses (full disk), the failure is logged and the user goes on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from analytics.api import Event, EventRecorder, provider_events
from idp import metrics
from idp.accounts.models import User
from idp.accounts.service import active_organization_ids
from idp.oauth.models import Client

log = logging.getLogger("canary.activity")


def _organization(db: Session | None, user_id: str | None, client: Client | None,
                  sole: str | None = None) -> str:
    """The event's organization: the user's when it belongs to exactly one (``sole`` when the caller read it already),
    else the client's."""
    if sole:
        return sole
    if sole is None and db is not None and user_id:
        orgs = active_organization_ids(db, user_id)
        if len(orgs) == 1:
            return orgs[0]
    if client is not None and client.organization_id:
        return client.organization_id
    return ""


class Activity:
    def __init__(self, recorder: EventRecorder | None) -> None:
        self.recorder = recorder

    def _emit(self, name: str, account: str, *, organization: str = "", client_id: str = "",
              properties: dict[str, Any] | None = None) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.record_soon(Event.for_idp(name, account, organization=organization, client_id=client_id,
                                               properties=properties or {}))
        except Exception:  # the event is lost, the sign-in is not
            log.exception("could not record %s for %s", name, account)

    def signin_succeeded(self, db: Session, user: User, client_id: str, method: str = "password",
                         amr: list[str] | None = None) -> None:
        metrics.sign_in("succeeded")
        if self.recorder is None:
            return
        properties: dict[str, Any] = {"method": method}
        if amr:
            properties["amr"] = amr
        self._emit(provider_events.SIGNIN_SUCCEEDED, user.id, organization=_organization(db, user.id, None),
                   client_id=client_id, properties=properties)

    def signin_failed(self, db: Session, user_id: str | None, reason: str, client_id: str) -> None:
        metrics.sign_in(reason)
        if self.recorder is None:
            return
        self._emit(provider_events.SIGNIN_FAILED, user_id or "", organization=_organization(db, user_id, None),
                   client_id=client_id, properties={"reason": reason})

    def signin_throttled(self, db: Session | None, user_id: str | None, limit: str, endpoint: str,
                         client_id: str) -> None:
        """An attempt refused by a limit (``idp.accounts.throttle``), before any password or secret was checked."""
        if self.recorder is None:
            return
        self._emit(provider_events.SIGNIN_THROTTLED, user_id or "", organization=_organization(db, user_id, None),
                   client_id=client_id, properties={"limit": limit, "endpoint": endpoint})

    def token_issued(self, db: Session | None, grant_type: str, client: Client, user: User | None,
                     scope: str, sole_organization: str | None = None) -> Callable[[], None] | None:
        """Builds the token event inside the token's transaction (the organization look-up shares its connection)
        and returns what hands it over (and counts the token), to be run once that transaction has committed.
        ``sole_organization``: the user's only organization ("" for none or several) when the grant read it."""
        if self.recorder is None:
            return functools.partial(metrics.token_issued, grant_type)
        name = provider_events.TOKEN_REFRESHED if grant_type == "refresh_token" else provider_events.TOKEN_ISSUED
        account = user.id if user else ""
        organization = _organization(db, user.id if user else None, client, sole_organization)
        properties = {"grant_type": grant_type, "scope": scope}

        def hand_over() -> None:
            metrics.token_issued(grant_type)
            self._emit(name, account, organization=organization, client_id=client.client_id, properties=properties)

        return hand_over

    def mfa_enrolled(self, db: Session, user_id: str, factor: str) -> None:
        """``factor``: totp or passkey."""
        if self.recorder is None:
            return
        self._emit(provider_events.MFA_ENROLLED, user_id, organization=_organization(db, user_id, None),
                   properties={"factor": factor})

    def mfa_removed(self, db: Session, user_id: str, factor: str, by: str = "user") -> None:
        """``factor``: totp, passkey or all (an operator's reset); ``by``: user or operator."""
        if self.recorder is None:
            return
        self._emit(provider_events.MFA_REMOVED, user_id, organization=_organization(db, user_id, None),
                   properties={"factor": factor, "by": by})

    def signout(self, db: Session, user_id: str, client_id: str) -> None:
        if self.recorder is None:
            return
        self._emit(provider_events.SIGNOUT, user_id, organization=_organization(db, user_id, None), client_id=client_id)

    # Account changes (``idp.accounts.flows.AccountEvents``): recorded like the rest, never blocking the change.
    def account_invited(self, db: Session, user_id: str, organization_id: str) -> None:
        self._emit(provider_events.ACCOUNT_INVITED, user_id, organization=organization_id)

    def account_signed_up(self, db: Session, user_id: str) -> None:
        self._emit(provider_events.ACCOUNT_SIGNED_UP, user_id)

    def email_verified(self, db: Session, user_id: str) -> None:
        self._emit(provider_events.EMAIL_VERIFIED, user_id, organization=_organization(db, user_id, None))

    def password_reset_requested(self, db: Session, user_id: str, by: str) -> None:
        self._emit(provider_events.PASSWORD_RESET_REQUESTED, user_id, organization=_organization(db, user_id, None),
                   properties={"by": by})

    def password_changed(self, db: Session, user_id: str, how: str) -> None:
        self._emit(provider_events.PASSWORD_CHANGED, user_id, organization=_organization(db, user_id, None),
                   properties={"how": how})
