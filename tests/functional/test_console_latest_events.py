"""The console's account page lists the account's latest events whenever they happened, not only those of the
chart's 30 days (ClickHouse server and chDB)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from analytics.api import Analytics, Event
from tests.functional.conftest import Provider
from tests.support.accounts import org_id
from tests.support.console import make_admin, sign_in


def _latest(page: str) -> str:
    section = re.search(r"<h2>Latest events</h2>.*?</section>", page, re.S)
    assert section, page
    return section.group(0)


def test_an_account_quiet_for_longer_than_the_chart_still_shows_its_latest_events(ingest: Provider) -> None:
    slug = f"old-{uuid.uuid4().hex[:6]}"
    operator = make_admin(ingest)
    quiet = ingest.user(organization=slug)
    analytics: Analytics = ingest.extra["analytics"]
    now = datetime.now(UTC).replace(microsecond=0)
    organization = org_id(ingest, slug)
    analytics.accept([
        Event(uuid.uuid4(), quiet.id, organization, "c", "report.exported", now - timedelta(days=45), now, {}),
        Event(uuid.uuid4(), quiet.id, organization, "c", "report.viewed", now - timedelta(days=90), now, {}),
    ])
    analytics.flush(20)
    with httpx.Client(base_url=ingest.url) as http:
        sign_in(http, operator.email)
        page = http.get(f"/console/users/{quiet.id}")
    assert page.status_code == 200
    latest = _latest(page.text)
    assert "None yet." not in latest
    exported, viewed = latest.index("report.exported"), latest.index("report.viewed")
    assert exported < viewed  # newest first
    assert (now - timedelta(days=45)).strftime("%Y-%m-%d %H:%M:%S") in latest
    chart = re.search(r'<svg[^>]*chart-bars[^>]*aria-label="Events per day".*?</svg>', page.text, re.S)
    assert chart and "usage events: 1</title>" not in chart.group(0)  # the chart keeps to its 30 days
