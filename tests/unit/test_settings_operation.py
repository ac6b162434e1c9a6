"""Settings an operator trips over: the issuer follows where `canary serve` listens unless CANARY_ISSUER is set
(and a local one that differs is warned about); a misspelled CANARY_* variable is named with its likely fix."""

from __future__ import annotations

import pytest

from idp.settings import Settings, SettingsError, unknown_variables


def test_the_issuer_follows_the_port_and_host_when_unset() -> None:
    assert Settings.from_env({}).issuer == "http://localhost:8000"
    assert Settings.from_env({}, port=8100).issuer == "http://localhost:8100"
    assert Settings.from_env({"CANARY_PORT": "8200"}).issuer == "http://localhost:8200"
    assert Settings.from_env({"CANARY_HOST": "0.0.0.0", "CANARY_PORT": "9000"}).issuer == "http://localhost:9000"
    assert Settings.from_env({}, host="::1", port=8300).issuer == "http://localhost:8300"
    with pytest.raises(SettingsError, match="set CANARY_ISSUER"):
        Settings.from_env({"CANARY_HOST": "10.1.2.3"})
    assert not [w for w in Settings.from_env({}, port=8100).warnings() if "listens" in w]


def test_a_local_issuer_on_another_port_is_warned_about() -> None:
    moved = Settings.from_env({"CANARY_ISSUER": "http://localhost:8000"}, port=8100)
    assert moved.issuer == "http://localhost:8000"
    assert [w for w in moved.warnings() if "CANARY_ISSUER is http://localhost:8000" in w and "8100" in w]
    same = Settings.from_env({"CANARY_ISSUER": "http://127.0.0.1:8100"}, port=8100)
    assert not [w for w in same.warnings() if "listens" in w]
    proxied = Settings.from_env({"CANARY_ISSUER": "https://id.example.com", "CANARY_KEY_ENCRYPTION_KEY": "k" * 32})
    assert proxied.warnings() == []  # a public issuer is a reverse proxy's address


def test_misspelled_variables_are_named_with_the_closest_setting() -> None:
    found = unknown_variables({"CANARY_ISUER": "x", "CANARY_PORT": "1", "CANARY_SMTP_HOTS": "y", "HOME": "/",
                               "CANARY_TEST_CLICKHOUSE_URL": "z", "CANARY_ZZZZZZZZZZZZ": "1"})
    assert found == [
        "CANARY_ISUER is not a Canary setting and is ignored; did you mean CANARY_ISSUER?",
        "CANARY_SMTP_HOTS is not a Canary setting and is ignored; did you mean CANARY_SMTP_HOST?",
        "CANARY_ZZZZZZZZZZZZ is not a Canary setting and is ignored",
    ]


def test_bad_log_levels_networks_and_minimums_are_configuration_errors() -> None:
    with pytest.raises(SettingsError, match="CANARY_LOG_LEVEL must be one of debug, info, warning, error, critical"):
        Settings.from_env({"CANARY_LOG_LEVEL": "verbose"})
    assert Settings.from_env({"CANARY_LOG_LEVEL": "DEBUG"}).log_level == "DEBUG"
    with pytest.raises(SettingsError, match=r"'10\.0\.0\.0/33' is not an IP address or network"):
        Settings.from_env({"CANARY_METRICS_ALLOW_IPS": "127.0.0.1, 10.0.0.0/33"})
    assert Settings.from_env({"CANARY_METRICS_ALLOW_IPS": "10.0.0.0/8, ::1"}).metrics_allow_ips == ("10.0.0.0/8", "::1")
    with pytest.raises(SettingsError, match=r"^CANARY_ACCESS_TOKEN_TTL must be at least 30, got 10$"):
        Settings.from_env({"CANARY_ACCESS_TOKEN_TTL": "10"})
