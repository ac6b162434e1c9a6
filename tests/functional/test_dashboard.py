"""The activity dashboard: administrators sign in through Canary and see who is using the product."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from analytics.api import Analytics, Event
from idp.accounts.models import User
from idp.db import transaction
from tests.functional.conftest import Provider
from tests.support.accounts import org_id
from tests.support.browser import login


def browse(prov: Provider, browser: httpx.Client, email: str, path: str = "/dashboard") -> httpx.Response:
    first = browser.get(path)
    assert first.status_code == 302 and first.headers["location"].startswith("/authorize?")
    page = browser.get(first.headers["location"])
    landed = login(browser, page, email)
    assert landed.status_code == 303 and "/dashboard/callback?code=" in landed.headers["location"]
    assert browser.get(landed.headers["location"]).headers["location"] == "/dashboard"
    return browser.get(path)


def test_admin_sees_activity_and_quiet_accounts(ingest: Provider) -> None:
    slug = f"dash-{uuid.uuid4().hex[:6]}"
    admin = ingest.user(organization=slug)
    quiet = ingest.user(organization=slug, email=f"quiet-{uuid.uuid4().hex[:6]}@example.com")
    with transaction(ingest.context.factory) as db:
        db.get(User, admin.id).is_admin = True  # type: ignore[union-attr]
    analytics: Analytics = ingest.extra["analytics"]
    now = datetime.now(UTC).replace(microsecond=0)
    analytics.accept([Event(uuid.uuid4(), quiet.id, org_id(ingest, slug), "c", "report.exported",
                            now - timedelta(days=20), now, {})])
    analytics.flush(20)
    with httpx.Client(base_url=ingest.url) as browser:
        page = browse(ingest, browser, admin.email)
        assert page.status_code == 200
        assert "Active users, last 30 days" in page.text and "<svg" in page.text
        assert quiet.email in page.text  # quiet for 20 days
        org_page = browser.get("/dashboard", params={"org": slug})
        assert org_page.status_code == 200 and quiet.email in org_page.text
        assert browser.get("/dashboard", params={"org": "no-such-org"}).status_code == 400
        account = browser.get(f"/dashboard/accounts/{quiet.id}")
        assert account.status_code == 200 and "report.exported" in account.text
        assert browser.get("/dashboard/accounts/nobody").status_code == 404


def test_non_admins_are_refused(ingest: Provider) -> None:
    user = ingest.user()
    with httpx.Client(base_url=ingest.url) as browser:
        assert browse(ingest, browser, user.email).status_code == 403
