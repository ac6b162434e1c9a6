"""The settings in force: what is configured, never a secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from idp.settings import OPTIONS
from tests.functional.conftest import Provider, start_provider
from tests.support.console import Console, make_admin, sign_in

SMTP_PASSWORD = "smtp-password-never-shown"
KEY = "k" * 40


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Console]:
    # A database of its own: the key encryption key encrypts the signing keys it finds.
    prov, server = start_provider(tmp_path, f"sqlite:///{tmp_path / 'own.db'}", smtp_host="mail.example.com",
                                  smtp_username="mailer", smtp_password=SMTP_PASSWORD, key_encryption_key=KEY)
    admin = make_admin(prov)
    try:
        with httpx.Client(base_url=prov.url) as http:
            sign_in(http, admin.email)
            yield Console(http)
    finally:
        server.stop()


def test_settings_show_smtp_configured_and_hide_secrets(configured: Console) -> None:
    page = configured.get("/console/settings")
    assert page.status_code == 200
    assert '<b id="smtp-state">configured</b>' in page.text and "mail.example.com" in page.text
    assert SMTP_PASSWORD not in page.text and KEY not in page.text
    for option in OPTIONS:
        assert f"<code>{option.env}</code>" in page.text
    assert "CANARY_SMTP_PASSWORD</code></td><td><em>set</em>" in page.text
    alerts = configured.get("/console/alerts")
    assert "SMTP is not configured" not in alerts.text


def test_settings_without_smtp_say_so(provider: Provider, console: Console) -> None:
    page = console.get("/console/settings")
    assert '<b id="smtp-state">not configured</b>' in page.text
    assert "CANARY_SMTP_PASSWORD</code></td><td><em>not set</em>" in page.text
    assert "CANARY_KEY_ENCRYPTION_KEY</code></td><td><em>not set</em>" in page.text


def test_passwords_in_database_urls_are_hidden(configured: Console) -> None:
    from idp.settings import Settings
    from idp.web.console.settings import shown

    settings = Settings(database_url="postgresql+psycopg://canary:pg-secret@db:5432/canary",
                        analytics_url="clickhouse+native://default:ch-secret@ch:9000/canary")
    values = {s.env: s.value for s in shown(settings)}
    assert "pg-secret" not in values["CANARY_DATABASE_URL"] and "db:5432" in values["CANARY_DATABASE_URL"]
    assert "ch-secret" not in values["CANARY_ANALYTICS_URL"]
    assert values["CANARY_SMTP_PASSWORD"] == "not set"
