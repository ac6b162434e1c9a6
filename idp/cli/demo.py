"""`canary serve --demo`: a demo user and two demo clients, printed for a first sign-in."""

from __future__ import annotations

from typing import Any

from idp.bootstrap import sql_sessions
from idp.settings import Settings

DEMO_EMAIL = "demo@example.com"
DEMO_REDIRECT = "http://localhost:8080/callback"


def demo(settings: Settings) -> dict[str, Any]:
    """A demo user (new random password each start) and two demo clients, printed for a first sign-in."""
    from sqlalchemy import select

    from idp.accounts.passwords import hash_password
    from idp.accounts.service import create_user, find_user_by_email
    from idp.clock import SYSTEM_CLOCK
    from idp.db import transaction
    from idp.mail import mailer_for
    from idp.oauth.clients import create_client, rotate_secret
    from idp.oauth.models import Client
    from idp.opaque import new_secret

    password = new_secret(12)
    with sql_sessions(settings) as factory, transaction(factory) as db:
        user = find_user_by_email(db, DEMO_EMAIL)
        if user is None:
            user = create_user(db, email=DEMO_EMAIL, password=password, name="Demo User", email_verified=True)
            user.is_admin = True
        else:
            user.password_hash = hash_password(password)
            user.locked_until = None
        spa = db.scalar(select(Client).where(Client.name == "Demo SPA"))
        if spa is None:
            spa, _ = create_client(db, name="Demo SPA", redirect_uris=[DEMO_REDIRECT], public=True,
                                   post_logout_redirect_uris=["http://localhost:8080/"])
        # A resource server: it posts events, and may introspect the tokens users bring it.
        backend = db.scalar(select(Client).where(Client.name == "Demo resource server"))
        if backend is None:
            backend, secret = create_client(
                db, name="Demo resource server", grant_types=["client_credentials"], scope="events:write",
                first_party=True, resource_server=True)
        else:
            backend.resource_server = True  # registered by a version that did not make it one
            secret = rotate_secret(db, backend)
        # A first message, so that the outbox shows what mail looks like; the server sends it once it starts.
        mailer_for(settings, factory, SYSTEM_CLOCK).send("test", DEMO_EMAIL, db=db)
        return {
            "issuer": settings.issuer,
            "user": {"email": DEMO_EMAIL, "password": password},
            "public_client": {"client_id": spa.client_id, "redirect_uri": DEMO_REDIRECT, "pkce": "S256"},
            "mail": mail_destination(settings),
            "resource_server_client": {"client_id": backend.client_id, "client_secret": secret,
                                       "grant_type": "client_credentials", "scope": "events:write"},
        }


def mail_destination(settings: Settings) -> str:
    """Where the provider's mail goes, as the demo prints it."""
    if settings.smtp_host:
        return f"SMTP server {settings.smtp_host}:{settings.smtp_port}"
    return f"no SMTP server configured: messages are written as .eml files to {settings.outbox_dir.resolve()}"
