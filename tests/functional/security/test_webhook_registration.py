"""The admin API and the CLI refuse webhook endpoints at internal addresses, unless the development switch is
on (CANARY_WEBHOOK_ALLOW_PRIVATE)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.functional.conftest import Provider, start_provider


def _admin_headers(provider: Provider) -> dict[str, str]:
    admin_id, admin_secret = provider.client(name="ops", grant_types=["client_credentials"], redirect_uris=[],
                                             scope="admin", admin=True)
    token = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", "scope": "admin"},
                       auth=(admin_id, admin_secret or "")).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def permissive(database_url: str, tmp_path: Path) -> Iterator[Provider]:
    prov, server = start_provider(tmp_path, database_url, webhook_allow_private=True)
    yield prov
    server.stop()


def test_admin_api_refuses_internal_addresses(provider: Provider) -> None:
    headers = _admin_headers(provider)
    for url in ("http://127.0.0.1:8080/hook", "http://2130706433/", "http://169.254.169.254/", "http://[::1]/"):
        response = httpx.post(f"{provider.url}/admin/api/v1/alerts/webhooks", json={"url": url}, headers=headers)
        assert response.status_code == 400, url
        assert response.json()["error"] == "invalid_request" and "public address" in response.text
    created = httpx.post(f"{provider.url}/admin/api/v1/alerts/webhooks", json={"url": "https://hooks.example.com/"},
                         headers=headers)
    assert created.status_code == 201
    moved = httpx.patch(f"{provider.url}/admin/api/v1/alerts/webhooks/{created.json()['id']}",
                        json={"url": "http://10.0.0.1/"}, headers=headers)
    assert moved.status_code == 400 and "public address" in moved.text


def test_the_development_switch_allows_them(permissive: Provider) -> None:
    response = httpx.post(f"{permissive.url}/admin/api/v1/alerts/webhooks", json={"url": "http://127.0.0.1:9/"},
                          headers=_admin_headers(permissive))
    assert response.status_code == 201


def test_cli_refuses_internal_addresses_unless_switched(provider: Provider) -> None:
    env = {**os.environ, "CANARY_DATABASE_URL": provider.settings.database_url,
           "CANARY_DATA_DIR": str(provider.settings.data_dir)}
    command = [sys.executable, "-m", "idp.cli", "alerts", "webhooks", "create", "http://0x7f.1/hook"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "public address" in refused.stderr
    allowed = subprocess.run(command, env={**env, "CANARY_WEBHOOK_ALLOW_PRIVATE": "1"}, capture_output=True,
                             text=True, timeout=60)
    assert allowed.returncode == 0, allowed.stderr
