"""Browser tests' fixtures, for any test under tests/browser: a live Canary with an administrator, a fresh
headless Chromium, and one signed in to the console.

- ``live`` (session): Canary over real HTTP on a loopback port, SQLite accounts, events on the ClickHouse
  server (a database of its own), and an administrator ``live.admin`` with the password ``live.password``.
- ``browser``: an empty-profile Chromium; when the test fails, a screenshot of the page it was on goes to
  tests/artifacts/ as ``failed-<test>.png``.
- ``operator``: ``browser`` signed in as the administrator through the login form, on /console.
- ``receiver``: a webhook receiver on loopback; what it got is in ``Receiver.received``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import HTTPServer
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from analytics.api import Analytics
from analytics.clickhouse import ServerEngine
from idp.accounts.models import User
from tests.support.browser import PASSWORD
from tests.support.chromium import chromium, screenshot
from tests.support.clickhouse import server_url_for
from tests.support.console import make_admin
from tests.support.live import LiveServer, serve
from tests.support.webhooks import Receiver


@dataclass
class Live:
    provider: LiveServer
    analytics: Analytics
    admin: User
    password: str = PASSWORD

    @property
    def url(self) -> str:
        return self.provider.url


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, clickhouse_server_url: str) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp("browser")
    database = f"canary_browser_{uuid.uuid4().hex[:10]}"
    analytics = Analytics.open(url=server_url_for(database), data_dir=tmp, flush_interval=0.2)
    analytics.migrate()
    server = serve(tmp, analytics)
    admin = make_admin(server, email=f"operator-{uuid.uuid4().hex[:6]}@example.com", name="Olive Operator")
    try:
        yield Live(server, analytics, admin)
    finally:
        server.stop()  # closes analytics (the app's lifespan)
        engine = ServerEngine(server_url_for("default"))
        engine.execute(f"DROP DATABASE IF EXISTS `{database}`")
        engine.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call" and report.failed:
        driver = getattr(item, "_canary_browser", None)
        if driver is not None:
            screenshot(driver, f"failed-{item.name}")
    return report


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        request.node._canary_browser = driver
        yield driver


def wait(driver: webdriver.Chrome, seconds: float = 15) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(driver, seconds)


def sign_in(driver: webdriver.Chrome, live: Live, path: str = "/console") -> None:
    """Open a console page, fill in the login form it leads to, and wait to be back on that page."""
    driver.get(live.url + path)
    wait(driver).until(expected_conditions.presence_of_element_located((By.ID, "password")))
    driver.find_element(By.ID, "email").send_keys(live.admin.email)
    driver.find_element(By.ID, "password").send_keys(live.password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver).until(expected_conditions.url_to_be(live.url + path))


@pytest.fixture
def operator(browser: webdriver.Chrome, live: Live) -> webdriver.Chrome:
    sign_in(browser, live)
    return browser


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
