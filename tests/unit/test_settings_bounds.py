"""Settings that cannot work stop the command with one configuration error, before anything fails deeper."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.settings import MAX_RETENTION_DAYS, Settings, SettingsError


@pytest.mark.parametrize("env", [
    {"CANARY_ISSUER": "http://[::1"},
    {"CANARY_ISSUER": "http://localhost:99999"},
    {"CANARY_ISSUER": "http://localhost:port"},
    {"CANARY_EVENT_RETENTION_DAYS": str(MAX_RETENTION_DAYS + 1)},
    {"CANARY_EVENT_RETENTION_DAYS": "0"},
])
def test_malformed_or_out_of_range_values_are_settings_errors(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


@pytest.mark.parametrize("overrides", [{"port": 65536}, {"port": -1}, {"workers": 0}, {"workers": 65}])
def test_port_and_workers_given_on_the_command_line_are_checked_too(overrides: dict[str, int]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({}, **overrides)


@pytest.mark.parametrize(("url", "words"), [
    ("bogus", "not a database URL"),
    ("postgresql://", "postgresql+psycopg://"),
    ("nosuchdatabase://host/db", "not installed"),
    ("postgresql+psycopg://user:secret@host:5432:1/db", "user:***@"),
])
def test_a_database_url_sqlalchemy_cannot_open_is_a_settings_error(url: str, words: str) -> None:
    with pytest.raises(SettingsError, match="CANARY_DATABASE_URL") as refused:
        Settings(database_url=url).check_database_url()
    assert words in str(refused.value) and "secret" not in str(refused.value)


def test_the_shipped_drivers_pass(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path).check_database_url()
    Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:5432/test").check_database_url()
    assert Settings.from_env({"CANARY_EVENT_RETENTION_DAYS": str(MAX_RETENTION_DAYS)}).event_retention_days == \
        MAX_RETENTION_DAYS
