"""Console actions that send mail, through the accounts service (development outbox: no SMTP configured):
an invitation into an organization and a password reset sent by the operator."""

from __future__ import annotations

import secrets
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

from sqlalchemy import select

from idp.accounts.models import Membership, Organization
from tests.functional.conftest import Provider
from tests.support.console import Console, errors, notices


def outbox(provider: Provider, to: str) -> list[EmailMessage]:
    provider.context.mail.sender.flush()
    found = []
    for path in sorted(provider.settings.outbox_dir.glob("*.eml")):
        message = cast(EmailMessage, message_from_bytes(path.read_bytes(), policy=policy.default))
        if message["To"] == to:
            found.append(message)
    return found


def test_an_operator_invites_someone_into_an_organization(provider: Provider, console: Console) -> None:
    tag = secrets.token_hex(4)
    provider.user(organization=f"crew-{tag}")
    page = console.get(f"/console/organizations/crew-{tag}")
    assert 'id="invite"' in page.text
    email = f"new-{tag}@example.com"
    posted = console.post(f"/console/organizations/crew-{tag}/invitations", {"email": email, "role": "admin"})
    assert posted.status_code == 303, posted.text
    sent = console.http.get(posted.headers["location"])
    assert "Invitation sent" in " ".join(notices(sent)), sent.text
    [message] = outbox(provider, email)
    assert "/invitations/accept?token=" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with provider.context.factory() as db:
        org = db.scalars(select(Organization).where(Organization.slug == f"crew-{tag}")).one()
        states = {m.role: m.state for m in db.scalars(select(Membership).where(Membership.organization_id == org.id))}
    assert states.get("admin") == "invited"
    again = console.post(f"/console/organizations/crew-{tag}/invitations", {"email": "not an address", "role": "x"})
    assert again.status_code == 400 and errors(again)


def test_an_operator_sends_a_password_reset(provider: Provider, console: Console) -> None:
    user = provider.user()
    page = console.get(f"/console/users/{user.id}")
    assert "Send password reset" in page.text
    posted = console.post(f"/console/users/{user.id}/password-reset")
    assert posted.status_code == 303, posted.text
    sent = console.http.get(posted.headers["location"])
    assert "password reset link" in " ".join(notices(sent)), sent.text
    [message] = outbox(provider, user.email)
    assert "/password/reset?token=" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
