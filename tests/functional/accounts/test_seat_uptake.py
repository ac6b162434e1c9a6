"""Invited members in organization health (embedded ClickHouse): a member who never accepted counts as a
member never active since the invitation, inactive once it is 30 days old; seat uptake is accepted / invited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from analytics.api import Analytics
from idp.accounts import invitations
from idp.accounts.models import User
from idp.accounts.service import create_organization
from idp.db import transaction
from tests.functional.conftest import Provider, start_provider
from tests.support.browser import login


@pytest.fixture
def with_analytics(tmp_path: Path, database_url: str) -> Iterator[Provider]:
    analytics = Analytics.open(url=None, data_dir=tmp_path, flush_interval=0.2)
    analytics.migrate()
    prov, server = start_provider(tmp_path, database_url, analytics)
    yield prov
    server.stop()


def outbox_token(prov: Provider, to: str) -> str:
    """The invitation token in the development outbox's message to ``to``."""
    prov.context.mail.sender.flush()
    for path in prov.settings.outbox_dir.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == to:
            body = message.get_body(("plain",))
            assert body is not None
            match = re.search(r"/invitations/accept\?token=([\w-]+)", body.get_content())
            assert match
            return match.group(1)
    raise AssertionError(f"no mail to {to}")


def test_health_counts_invited_members_and_reports_seat_uptake(with_analytics: Provider) -> None:
    prov = with_analytics
    flows = prov.context.accounts
    slug = f"seats-{prov.settings.port}"
    with transaction(prov.context.factory) as db:
        org = create_organization(db, slug=slug)
        for who in ("yes", "later", "no"):
            invitations.invite(flows, db, email=f"{who}-{slug}@example.com", organization=org)
    with transaction(prov.context.factory) as db:
        invitations.accept(flows, db, outbox_token(prov, f"yes-{slug}@example.com"), password="seats are taken",
                           name="Yes")
        [revoked] = [i for i in invitations.invitations_page(db, org)[0] if i.email.startswith("no-")]
        invitations.revoke(flows, db, revoked)
    client_id, secret = prov.client(name="ops", grant_types=["client_credentials"], admin=True, scope="admin")
    with httpx.Client(base_url=prov.url, timeout=60) as http:
        def health() -> dict[str, object]:
            token = http.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                              auth=(client_id, secret or "")).json()["access_token"]
            response = http.get(f"/admin/api/v1/organizations/{slug}/health",
                                headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            return body

        now = health()
        assert now["members"] == 2 and now["inactive"] == 0
        assert now["seats"] == {"invited": 2, "accepted": 1, "uptake": 0.5}

        admin = prov.user(email=f"admin-{slug}@example.com")
        with transaction(prov.context.factory) as db:
            row = db.get(User, admin.id)
            assert row is not None
            row.is_admin = True
        first = http.get(f"/console/organizations/{slug}")
        landed = login(http, http.get(first.headers["location"]), admin.email)
        http.get(landed.headers["location"])
        page = http.get(f"/console/organizations/{slug}")
        assert page.status_code == 200 and "1 of 2 invited" in page.text, page.text
        prov.clock.advance(31 * 86400)
        later = health()
        assert later["members"] == 2 and later["inactive"] == 2
        token = http.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                          auth=(client_id, secret or "")).json()["access_token"]
        inactive = http.get("/admin/api/v1/activity/inactive", params={"organization": slug, "days": 30},
                            headers={"Authorization": f"Bearer {token}"}).json()["items"]
        never = {item["email"]: item for item in inactive}[f"later-{slug}@example.com"]
        assert never["last_seen"] is None and never["inactive_days"] >= 31
