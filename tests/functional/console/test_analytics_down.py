"""ClickHouse away: the console says so instead of failing, and what does not need analytics still works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from analytics.api import Analytics
from tests.functional.conftest import Provider, free_port, start_provider
from tests.support.console import Console, errors, make_admin, sign_in, text_of


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[tuple[Provider, Console]]:
    # A port nothing listens on: every query fails to connect; the spool keeps posted events.
    analytics = Analytics.open(url=f"clickhouse+native://default@127.0.0.1:{free_port()}/canary", data_dir=tmp_path)
    prov, server = start_provider(tmp_path, f"sqlite:///{tmp_path / 'own.db'}", analytics)
    admin = make_admin(prov)
    try:
        with httpx.Client(base_url=prov.url, timeout=60) as http:
            sign_in(http, admin.email, "/console/users")
            yield prov, Console(http)
    finally:
        server.stop()


def test_activity_pages_say_analytics_is_unavailable(unreachable: tuple[Provider, Console]) -> None:
    prov, console = unreachable
    overview = console.get("/console")
    assert overview.status_code == 503 and errors(overview)[0].startswith("analytics is unavailable now")
    user = prov.user()
    page = console.get(f"/console/users/{user.id}")
    assert page.status_code == 200 and text_of(page, "activity-unavailable").startswith("analytics is unavailable")
    assert console.post(f"/console/users/{user.id}/disable").status_code == 303  # the actions still work
    console.post("/console/organizations", {"slug": "down-org"})
    console.post("/console/organizations/down-org/members", {"email": user.email})
    organization = console.get("/console/organizations/down-org")
    assert organization.status_code == 200 and "analytics is unavailable now" in organization.text
