"""The account flows record their provider events through ``idp.activity.Activity`` (a recorder that keeps
what it is given stands in for analytics): account.invited, account.signed_up, email.verified,
password.reset_requested, password.changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_string, policy
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from analytics.api import Event, provider_events
from idp.accounts import invitations, recovery, signup, verification
from idp.accounts.flows import AccountFlows, AccountPolicy
from idp.accounts.service import create_organization, find_user_by_email
from idp.activity import Activity
from idp.db import make_engine, make_session_factory
from idp.mail import Mailer
from idp.mail.models import OutgoingMail
from idp.migrate import migrate_sql
from idp.oauth.tokens import TokenService
from idp.settings import Settings
from tests.support.clock import MovableClock


@dataclass
class Kept:
    events: list[Event] = field(default_factory=list)

    def record_soon(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class Transport:
    sender: str = "id@example.com"


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    settings = Settings(data_dir=tmp_path)
    migrate_sql(settings)
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def token_in_queue(db: Session, path: str) -> str:
    """The token of the last queued message linking to ``path`` (the queue keeps the text until sent)."""
    rows = db.query(OutgoingMail).order_by(OutgoingMail.id.desc()).all()
    for row in rows:
        body = message_from_string(row.message, policy=policy.default).get_body(("plain",))
        assert body is not None
        match = re.search(re.escape(path) + r"\?token=([\w-]+)", body.get_content())
        if match:
            return match.group(1)
    raise AssertionError(f"no queued link to {path}")


def test_each_flow_records_its_event(factory: sessionmaker[Session]) -> None:
    kept = Kept()
    clock = MovableClock()
    mailer = Mailer(factory, Transport(), clock, product="Canary", base_url="http://localhost:8000")  # type: ignore[arg-type]
    flows = AccountFlows(mailer, clock, AccountPolicy(base_url="http://localhost:8000", signup="open"),
                         TokenService.revoke_user_grants, Activity(kept))
    with factory() as db:
        org = create_organization(db, slug="acme")
        invitations.invite(flows, db, email="ines@example.com", organization=org)
        signup.sign_up(flows, db, email="sam@example.com")
        db.commit()
        verification.verify(flows, db, token_in_queue(db, "/email/verify"), name="Sam",
                            password="sam's long passphrase")
        recovery.request_reset(flows, db, "sam@example.com")
        recovery.reset_password(flows, db, token_in_queue(db, "/password/reset"), "a different passphrase")
        db.commit()
        sam = find_user_by_email(db, "sam@example.com")
        ines = find_user_by_email(db, "ines@example.com")
        assert sam is not None and ines is not None
    names = [(e.name, e.account) for e in kept.events]
    assert names == [
        (provider_events.ACCOUNT_INVITED, ines.id),
        (provider_events.ACCOUNT_SIGNED_UP, sam.id),
        (provider_events.EMAIL_VERIFIED, sam.id),
        (provider_events.PASSWORD_RESET_REQUESTED, sam.id),
        (provider_events.PASSWORD_CHANGED, sam.id),
    ]
    assert kept.events[0].organization == org.id
