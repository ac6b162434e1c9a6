"""`canary serve --demo` prints the console's address, and the demo user signs in there."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.functional.conftest import free_port
from tests.support.console import sign_in
from tests.support.demo import start_demo


def test_the_demo_prints_the_console_and_its_user_may_open_it(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_PORT": str(port),
           "CANARY_ISSUER": f"http://127.0.0.1:{port}", "CANARY_LOG_LEVEL": "warning"}
    process, demo, text = start_demo(env, until="Console:")
    try:
        match = re.search(r"^Console: (http://\S+) \(sign in as (\S+): the demo user may open it\)$", text, re.M)
        assert match, text
        console_url, email = match.groups()
        assert console_url == f"http://127.0.0.1:{port}/console"
        assert demo["user"]["email"] == email
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "canary serve did not come up"
            time.sleep(0.2)
        with httpx.Client(base_url=console_url.removesuffix("/console"), timeout=30) as http:
            page = sign_in(http, email, "/console", password=demo["user"]["password"])
            assert page.status_code == 200 and "Active accounts, last 30 days" in page.text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
