"""The console's activity pages on real analytics (ClickHouse server and chDB): charts, quiet accounts,
an account's events."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from analytics.api import Analytics, Event
from tests.functional.conftest import Provider, start_provider
from tests.support.accounts import org_id
from tests.support.console import make_admin, sign_in


def test_activity_with_charts_quiet_accounts_and_an_account(ingest: Provider) -> None:
    slug = f"dash-{uuid.uuid4().hex[:6]}"
    admin = make_admin(ingest, organization=slug)
    quiet = ingest.user(organization=slug, email=f"quiet-{uuid.uuid4().hex[:6]}@example.com")
    busy = ingest.user(organization=slug)
    analytics: Analytics = ingest.extra["analytics"]
    now = datetime.now(UTC).replace(microsecond=0)
    analytics.accept([
        Event(uuid.uuid4(), quiet.id, org_id(ingest, slug), "c", "report.exported", now - timedelta(days=20), now, {}),
        Event(uuid.uuid4(), busy.id, org_id(ingest, slug), "c", "report.viewed", now - timedelta(minutes=5), now, {}),
    ])
    analytics.flush(20)
    with httpx.Client(base_url=ingest.url) as http:
        page = sign_in(http, admin.email, f"/console?org={slug}")
        assert page.status_code == 200 and quiet.email in page.text  # quiet for 20 days
        charts = re.findall(r"<svg.*?</svg>", page.text, re.S)
        assert len(charts) == 2
        active, lifecycle = charts
        assert ">active accounts</text>" in active and ">day (UTC)</text>" in active
        today = now.date().isoformat()
        # `busy` posted today (the admin's sign-in may not have reached ClickHouse yet); `quiet` was active
        # 20 days ago, within the 30 days of MAU. Each point carries its date and value as a hover title.
        assert re.search(rf"<title>{today} · DAU: [12]</title>", active), active
        assert re.search(rf"<title>{today} · MAU: [23]</title>", active), active
        assert ">week starting (UTC)</text>" in lifecycle and "<title>" in lifecycle
        assert re.search(r"· new: [1-9]", lifecycle)
        account = http.get(f"/console/users/{quiet.id}")
        assert account.status_code == 200 and "report.exported" in account.text
        per_day = re.search(r'<svg[^>]*chart-bars[^>]*aria-label="Events per day".*?</svg>', account.text, re.S)
        assert per_day, account.text
        twenty_days_ago = (now - timedelta(days=20)).date().isoformat()
        assert f"<title>{twenty_days_ago} · usage events: 1</title>" in per_day.group(0)
        organization = http.get(f"/console/organizations/{slug}")
        assert re.search(r'<div class="cards" id="health">\s*<div class="card"><span>Members</span><b>3</b>',
                         organization.text), organization.text
        assert http.get("/console", params={"org": "no-such-org"}).status_code == 404


def test_the_overview_lists_accounts_at_risk_with_their_explanation(ingest: Provider) -> None:
    slug = f"risk-{uuid.uuid4().hex[:6]}"
    admin = make_admin(ingest, organization=slug)
    daily = ingest.user(organization=slug, email=f"daily-{uuid.uuid4().hex[:6]}@example.com")
    analytics: Analytics = ingest.extra["analytics"]
    now = datetime.now(UTC).replace(microsecond=0)
    # Active every day for two months, then silent for six days: going quiet by its own rhythm, long before
    # the fixed 14 days.
    analytics.accept([Event(uuid.uuid4(), daily.id, org_id(ingest, slug), "c", "report.viewed",
                            now - timedelta(days=ago), now, {}) for ago in range(6, 66)])
    analytics.flush(20)
    with httpx.Client(base_url=ingest.url) as http:
        page = sign_in(http, admin.email, f"/console?org={slug}")
        section = re.search(r'<section id="at-risk">.*?</section>', page.text, re.S)
        assert section, page.text
        assert daily.email in section.group(0) and "going quiet" in section.group(0)
        assert "silent for 6 days" in section.group(0), section.group(0)


def test_the_quiet_list_uses_the_configured_threshold(server_database: str, database_url: str,
                                                     tmp_path: Path) -> None:
    """With CANARY_CHURN_INACTIVE_DAYS below 14, an account silent for longer is in the quiet list: the at-risk
    list leaves it to that one."""
    analytics = Analytics.open(url=server_database, data_dir=tmp_path, flush_interval=0.2)
    analytics.migrate()
    prov, server = start_provider(tmp_path, database_url, analytics, churn_inactive_days=7)
    try:
        slug = f"seven-{uuid.uuid4().hex[:6]}"
        admin = make_admin(prov, organization=slug)
        quiet = prov.user(organization=slug, email=f"ten-days-{uuid.uuid4().hex[:6]}@example.com")
        now = datetime.now(UTC).replace(microsecond=0)
        analytics.accept([Event(uuid.uuid4(), quiet.id, org_id(prov, slug), "c", "report.viewed",
                                now - timedelta(days=10), now, {})])
        analytics.flush(20)
        with httpx.Client(base_url=prov.url) as http:
            page = sign_in(http, admin.email, f"/console?org={slug}")
        section = re.search(r"<section><h2>Gone quiet: no activity for 7 days or more</h2>.*?</section>", page.text,
                            re.S)
        assert section, page.text
        assert quiet.email in section.group(0)
    finally:
        server.stop()
        analytics.close()
