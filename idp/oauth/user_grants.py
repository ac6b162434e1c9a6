"""What a user gave applications, as their account page shows it: the clients they consented to or hold
live grants with, and taking that back (the consent goes, and every grant of the user with the client is
revoked, so its refresh and access tokens stop working)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from idp.oauth.clients import DASHBOARD_CLIENT_ID
from idp.oauth.models import Client, Consent, Grant

ACCOUNT_CLIENT_ID = "canary-account"
INTERNAL = (DASHBOARD_CLIENT_ID, ACCOUNT_CLIENT_ID)


@dataclass(frozen=True)
class Application:
    client_id: str
    name: str
    scope: str
    since: datetime | None


def applications(db: Session, user_id: str) -> list[Application]:
    """Clients the user consented to, or holds unrevoked grants with, by name (Canary's own pages left out)."""
    consents = {c.client_id: c for c in db.scalars(select(Consent).where(Consent.user_id == user_id))}
    granted = set(db.scalars(select(Grant.client_id).where(Grant.user_id == user_id, Grant.revoked_at.is_(None))))
    ids = (set(consents) | granted) - set(INTERNAL)
    clients: list[Client] = list(db.scalars(select(Client).where(Client.client_id.in_(ids)))) if ids else []
    out = [Application(client.client_id, client.name,
                       consents[client.client_id].scope if client.client_id in consents else "",
                       consents[client.client_id].granted_at if client.client_id in consents else None)
           for client in clients]
    return sorted(out, key=lambda a: (a.name.lower(), a.client_id))


def revoke_application(db: Session, user_id: str, client_id: str, now: datetime) -> bool:
    """Forget the consent and revoke every grant of the user with the client; False when there was none."""
    consent = db.execute(delete(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id))
    grants = db.execute(update(Grant).where(Grant.user_id == user_id, Grant.client_id == client_id,
                                            Grant.revoked_at.is_(None)).values(revoked_at=now))
    return bool(getattr(consent, "rowcount", 0) or getattr(grants, "rowcount", 0))


def ensure_account_client(db: Session, issuer: str) -> Client:
    """The account page signs people in through Canary like any first-party app (public, PKCE), as the
    dashboard does."""
    redirect = f"{issuer}/account/callback"
    client = db.get(Client, ACCOUNT_CLIENT_ID)
    if client is None:
        client = Client(client_id=ACCOUNT_CLIENT_ID, secret_hash=None, name="Your account",
                        redirect_uris=[redirect], post_logout_redirect_uris=[f"{issuer}/account"],
                        grant_types=["authorization_code"], scope="openid", token_endpoint_auth_method="none",
                        first_party=True)
        db.add(client)
    elif client.redirect_uris != [redirect]:
        client.redirect_uris = [redirect]
        client.post_logout_redirect_uris = [f"{issuer}/account"]
    db.flush()
    return client
