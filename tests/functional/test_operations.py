"""What operators and their tools read: Prometheus text at /metrics (counted by route template, token grant,
sign-in outcome, event outcome; the spool's gauges), open to loopback or a bearer token; /healthz and /readyz
(ClickHouse away is degraded, not unready; the accounts database away is unready)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import sessionmaker

from analytics.api import Analytics
from idp.db import make_engine
from tests.functional.conftest import Provider, ServerThread, free_port, start_provider
from tests.support.browser import PASSWORD, authorize_params, login
from tests.support.clickhouse import server_url_for
from tests.support.postgres import own_accounts_database


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-z_:]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return 0.0


def scrape(url: str, **headers: str) -> str:
    response = httpx.get(f"{url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_metrics_count_requests_tokens_sign_ins_and_events(ingest: Provider) -> None:
    before = scrape(ingest.url)
    client_id, secret = ingest.client(grant_types=["client_credentials"], scope="events:write", first_party=True,
                                      redirect_uris=[])
    token = httpx.post(f"{ingest.url}/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret or "")).json()["access_token"]
    user = ingest.user()
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{ingest.url}/v1/events", json={"batch": [{"account": user.id, "name": "a"}] * 3},
                      headers=headers).status_code == 202
    assert httpx.post(f"{ingest.url}/v1/events", json={"account": "nobody", "name": "a"},
                      headers=headers).status_code == 400
    assert httpx.post(f"{ingest.url}/v1/events", content=b"{",
                      headers={**headers, "Content-Type": "application/json"}).status_code == 400
    assert httpx.post(f"{ingest.url}/v1/events", json={"name": "a"},
                      headers={"Authorization": "Bearer garbage"}).status_code == 401
    app_id, _ = ingest.client(first_party=True)
    with httpx.Client(base_url=ingest.url) as browser:
        for password in ("wrong password", PASSWORD):
            login(browser, browser.get("/authorize", params=authorize_params(app_id)), user.email, password)
    assert httpx.get(f"{ingest.url}/admin/api/v1/accounts/{user.id}").status_code == 401
    after = scrape(ingest.url)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("canary_tokens_issued_total", grant_type="client_credentials") == 1
    assert delta("canary_events_accepted_total") == 3
    assert delta("canary_event_posts_refused_total", reason="unknown_account") == 1
    assert delta("canary_event_posts_refused_total", reason="not_json") == 1
    assert delta("canary_event_posts_refused_total", reason="invalid_token") == 1
    assert delta("canary_signins_total", outcome="succeeded") == 1
    assert delta("canary_signins_total", outcome="bad_password") == 1
    assert delta("canary_http_requests_total", method="POST", route="/v1/events", status="202") == 1
    assert delta("canary_http_requests_total", method="POST", route="/v1/events", status="400") == 2
    # Route templates, never raw paths: one series for every account id.
    assert delta("canary_http_requests_total", method="GET", route="/admin/api/v1/accounts/{account_id}",
                 status="401") == 1
    assert f"route=\"/admin/api/v1/accounts/{user.id}\"" not in after
    assert delta("canary_http_request_duration_seconds_count", method="POST", route="/token") == 1
    for gauge in ("canary_spool_events", "canary_spool_bytes", "canary_spool_max_bytes", "canary_writer_lag_seconds"):
        assert f"\n{gauge} " in after, gauge
    assert sample(after, "canary_spool_max_bytes") == ingest.settings.spool_max_bytes
    for counter in ("canary_writer_failed_inserts_total", "canary_clickhouse_errors_total",
                    "canary_alert_deliveries_total"):
        assert f"# TYPE {counter} counter" in after, counter


def test_metrics_are_closed_except_to_allowed_addresses_and_the_token(database_url: str, tmp_path: Path) -> None:
    provider, server = start_provider(tmp_path, database_url, metrics_allow_ips=(), metrics_token="s3cret-token")
    try:
        assert httpx.get(f"{provider.url}/metrics").status_code == 403
        assert httpx.get(f"{provider.url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert "canary_http_requests_total" in scrape(provider.url, Authorization="Bearer s3cret-token")
    finally:
        server.stop()
    default, server = start_provider(tmp_path / "default", database_url)
    try:
        assert default.settings.metrics_allow_ips == ("127.0.0.1", "::1")
        assert httpx.get(f"{default.url}/metrics").status_code == 200  # loopback, by default
    finally:
        server.stop()
    for allowed, status in ((("10.0.0.0/8", "127.0.0.0/8"), 200), (("10.0.0.0/8", "::1"), 403)):
        networks, server = start_provider(tmp_path / f"networks-{status}", database_url, metrics_allow_ips=allowed)
        try:
            assert httpx.get(f"{networks.url}/metrics").status_code == status, allowed
        finally:
            server.stop()


def test_clickhouse_away_is_degraded_and_the_database_away_unready(database_url: str, tmp_path: Path) -> None:
    analytics = Analytics.open(url=f"clickhouse+native://default@127.0.0.1:{free_port()}/away",
                               data_dir=tmp_path, flush_interval=0.2)
    provider, server = start_provider(tmp_path, database_url, analytics)
    try:
        assert httpx.get(f"{provider.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{provider.url}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "degraded", "checks": {
            "database": "ok", "signing_keys": "ok", "spool": "ok",
            "clickhouse": "unreachable: events wait in the spool"}}
        working = provider.context.factory
        away = make_engine(f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x")
        provider.context.factory = sessionmaker(bind=away)  # the accounts database stops answering
        try:
            unready = httpx.get(f"{provider.url}/readyz")
            assert unready.status_code == 503 and unready.json()["status"] == "unready"
            assert unready.json()["checks"]["database"].startswith("unreachable")
            assert httpx.get(f"{provider.url}/healthz").status_code == 200  # alive all the same
        finally:
            provider.context.factory = working
            away.dispose()
    finally:
        server.stop()
        analytics.close()


def test_a_signing_key_that_does_not_decrypt_is_left_out_and_reported(database_url: str, tmp_path: Path) -> None:
    with own_accounts_database(database_url, tmp_path, "canary_readyz") as own:  # its keys are this test's
        _key_left_out_then_none_left(*start_provider(tmp_path, own, key_encryption_key="k" * 40))


def _key_left_out_then_none_left(provider: Provider, server: ServerThread) -> None:
    from idp.db import transaction
    from idp.oauth.key_cipher import KeyCipher
    from idp.oauth.keys import rotate
    from idp.oauth.models import SigningKey

    try:
        assert httpx.get(f"{provider.url}/readyz").json()["checks"]["signing_keys"] == "ok"
        client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write",
                                            redirect_uris=[])
        with transaction(provider.context.factory) as db:  # as a rotation run with another encryption key
            foreign = rotate(db, "RS256", 0, cipher=KeyCipher("another key of forty characters, not ours")).kid
        provider.context.keys._loaded_at = 0.0  # due for its periodic reload
        degraded = httpx.get(f"{provider.url}/readyz")
        assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"
        assert foreign in degraded.json()["checks"]["signing_keys"]
        token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, secret or ""))
        assert token.status_code == 200  # signed with the key that loads
        assert foreign not in {key["kid"] for key in httpx.get(f"{provider.url}/jwks").json()["keys"]}
        with transaction(provider.context.factory) as db:  # no key left that loads
            for key in db.query(SigningKey).filter(SigningKey.kid != foreign):
                db.delete(key)
        provider.context.keys._loaded_at = 0.0
        unready = httpx.get(f"{provider.url}/readyz")
        assert unready.status_code == 503 and unready.json()["status"] == "unready"
        assert unready.json()["checks"]["signing_keys"].startswith("unusable: KeyEncryptionError")
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path: Path, clickhouse_server_url: str) -> Iterator[str]:
    port = free_port()
    database = f"canary_metrics_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_PORT": str(port),
           "CANARY_ISSUER": f"http://127.0.0.1:{port}", "CANARY_LOG_LEVEL": "warning",
           "CANARY_ANALYTICS_URL": server_url_for(database)}
    stale = tmp_path / "metrics" / "counter_1.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by an earlier run")
    subprocess.run([sys.executable, "-m", "idp.cli", "migrate"], env=env, check=True, capture_output=True,
                   timeout=120)
    client = subprocess.run([sys.executable, "-m", "idp.cli", "clients", "create", "m", "--grant-type",
                             "client_credentials", "--scope", "events:write", "--json"], env=env, check=True,
                            capture_output=True, text=True, timeout=120).stdout
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "idp.cli", "serve", "--workers", "2"], env=env, text=True,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        assert not stale.exists()  # the directory is emptied at start
        yield f"{url} {client}"
    finally:
        log.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        from analytics.clickhouse import ServerEngine

        admin = ServerEngine(server_url_for("default"))
        admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()


def test_metrics_add_up_every_workers_samples(workers: str) -> None:
    import json

    url, created = workers.split(" ", 1)
    client = json.loads(created)
    issued = 0
    for _ in range(6):  # new connections: the kernel spreads them over both workers' sockets
        with httpx.Client(base_url=url) as http:
            for _ in range(5):
                response = http.post("/token", data={"grant_type": "client_credentials"},
                                     auth=(client["client_id"], client["client_secret"]))
                assert response.status_code == 200
                issued += 1
    time.sleep(1.5)  # each worker adds its request tally to the shared samples every second
    for _ in range(4):  # whichever worker answers the scrape (a new connection each), the total is the same
        text = scrape(url)
        assert sample(text, "canary_tokens_issued_total", grant_type="client_credentials") == issued
        assert sample(text, "canary_http_requests_total", method="POST", route="/token", status="200") == issued


def test_the_prometheus_client_internals_the_request_tally_uses_are_there() -> None:
    from idp import metrics

    assert metrics.internals_missing() == [], "prometheus-client changed: see idp.metrics.HttpTally.flush"
    tally = metrics.HttpTally()
    route = f"/probe/{uuid.uuid4().hex}"
    for seconds in (0.0005, 0.001, 0.003, 20.0):
        tally.add("GET", route, 200, seconds)
    tally.flush()
    text = metrics.exposition(None).decode()
    assert sample(text, "canary_http_requests_total", method="GET", route=route, status="200") == 4
    assert sample(text, "canary_http_request_duration_seconds_bucket", le="0.001", method="GET", route=route) == 2
    assert sample(text, "canary_http_request_duration_seconds_bucket", le="0.005", method="GET", route=route) == 3
    assert sample(text, "canary_http_request_duration_seconds_bucket", le="+Inf", method="GET", route=route) == 4
    assert sample(text, "canary_http_request_duration_seconds_sum", method="GET", route=route) == 20.0045
