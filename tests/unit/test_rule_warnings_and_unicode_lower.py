"""What an alert rule's `warnings` say of its organization, and SQLite's lower case of every letter."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from idp.alerting import rule_warnings
from idp.db import unicode_lower
from idp.settings import Settings


def test_a_rule_whose_organization_no_longer_exists_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, smtp_host="smtp.example.com")
    known = {"org-1": "org-1"}.get
    assert rule_warnings(settings, ["ops@example.com"], organization_id="org-1", organizations=known) == []
    assert rule_warnings(settings, ["ops@example.com"], organization_id=None, organizations=known) == []
    [warning] = rule_warnings(settings, ["ops@example.com"], organization_id="org-2", organizations=known)
    assert warning.startswith("organization org-2 no longer exists (it was deleted): this rule watches no one")
    assert rule_warnings(settings, ["ops@example.com"], organization_id="org-2") == []  # nothing to look it up


def test_both_warnings_together(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    found = rule_warnings(settings, ["ops@example.com"], organization_id="gone", organizations=lambda _: None)
    assert [w.split(" ", 1)[0] for w in found] == ["organization", "SMTP"]


def test_sqlite_connections_lower_every_letter(factory: sessionmaker[Session]) -> None:
    assert unicode_lower("ÉLODIE Straße ZÜRICH") == "élodie straße zürich" and unicode_lower(None) is None
    with factory() as db:
        assert db.scalar(text("SELECT lower('ÉLODIE')")) == "Élodie"  # SQLite's own: ASCII letters only
        assert db.scalar(text("SELECT unicode_lower('ÉLODIE')")) == "élodie"
        assert db.scalar(text("SELECT unicode_lower(NULL)")) is None
