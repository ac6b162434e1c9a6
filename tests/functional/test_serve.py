"""`canary serve --demo` as a newcomer runs it (a real process), then a sign-in with what it printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.functional.conftest import free_port
from tests.support.browser import consent, hidden, pkce_pair, redirect_params
from tests.support.clickhouse import server_url_for
from tests.support.demo import start_demo


def start(env: dict[str, str]) -> tuple[subprocess.Popen[str], dict]:
    process, demo, _text = start_demo(env)
    return process, demo


@pytest.fixture(params=["embedded", "postgresql-clickhouse-es256"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict]:
    port = free_port()
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_PORT": str(port),
           "CANARY_ISSUER": f"http://127.0.0.1:{port}", "CANARY_LOG_LEVEL": "warning"}
    database = None
    if request.param != "embedded":
        request.getfixturevalue("clickhouse_server_url")
        database_url = request.getfixturevalue("postgres_database")
        database = f"canary_serve_{uuid.uuid4().hex[:10]}"
        env.update(CANARY_DATABASE_URL=database_url, CANARY_ANALYTICS_URL=server_url_for(database),
                   CANARY_SIGNING_ALG="ES256")
        subprocess.run([sys.executable, "-m", "idp.cli", "migrate"], env=env, check=True, capture_output=True,
                       timeout=120)
    process, demo = start(env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{demo['issuer']}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "canary serve did not come up"
            time.sleep(0.2)
        yield demo
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if database is not None:
            from analytics.clickhouse import ServerEngine

            admin = ServerEngine(server_url_for("default"))
            admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
            admin.close()


def test_demo_user_signs_in_with_the_demo_client_and_the_resource_server_posts(served: dict) -> None:
    issuer = served["issuer"]
    public = served["public_client"]
    verifier, challenge = pkce_pair()
    with httpx.Client(base_url=issuer) as browser:
        page = browser.get("/authorize", params={
            "client_id": public["client_id"], "redirect_uri": public["redirect_uri"], "response_type": "code",
            "scope": "openid profile email", "state": "s1", "nonce": "n1", "code_challenge": challenge,
            "code_challenge_method": "S256"})
        assert page.status_code == 200
        done = browser.post("/login", data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "authorization_request": hidden(page.text, "authorization_request"),
            "email": served["user"]["email"], "password": served["user"]["password"]})
        if done.status_code == 200 and 'name="decision"' in done.text:  # the demo SPA asks for consent
            done = consent(browser, done)
        back = redirect_params(done)
    assert back["state"] == "s1"
    tokens = httpx.post(f"{issuer}/token", data={
        "grant_type": "authorization_code", "code": back["code"], "redirect_uri": public["redirect_uri"],
        "client_id": public["client_id"], "code_verifier": verifier}).json()
    assert {"access_token", "id_token"} <= set(tokens), tokens
    info = httpx.get(f"{issuer}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["email"] == served["user"]["email"]

    rs = served["resource_server_client"]
    token = httpx.post(f"{issuer}/token", data={"grant_type": "client_credentials"},
                       auth=(rs["client_id"], rs["client_secret"])).json()["access_token"]
    posted = httpx.post(f"{issuer}/v1/events", json={"account": info["sub"], "name": "tried.canary"},
                        headers={"Authorization": f"Bearer {token}"})
    assert posted.status_code == 202 and posted.json() == {"accepted": 1}
