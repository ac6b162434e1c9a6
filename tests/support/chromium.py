"""A real headless Chromium for browser tests, driven by selenium through Debian's ChromeDriver.

Selenium Manager cannot download anything here, so the system browser and driver are named explicitly. The flags
keep Chromium off the network (only loopback is reachable) and give each browser an empty profile. Screenshots
go to ``tests/artifacts/`` (``CANARY_TEST_ARTIFACTS`` overrides), which CI keeps.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("CANARY_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--window-size=1280,900",
)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A fresh browser with an empty profile, quit (and its profile removed) when the block ends."""
    with tempfile.TemporaryDirectory(prefix="canary-chromium-") as profile:
        options = Options()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the current page as ``tests/artifacts/<name>.png`` and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    driver.save_screenshot(str(path))
    return path
