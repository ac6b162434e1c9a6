"""How long a node sending a notification keeps it from the others, and the webhook timeout it must outlast."""

from __future__ import annotations

import pytest

from idp.alerting import alert_settings
from idp.settings import Settings, SettingsError


def test_the_claim_and_the_timeout_reach_the_alert_settings() -> None:
    settings = alert_settings(Settings.from_env({"CANARY_WEBHOOK_TIMEOUT": "3", "CANARY_ALERT_CLAIM_SECONDS": "7"}))
    assert (settings.webhook_timeout_seconds, settings.claim_seconds) == (3.0, 7)
    defaults = alert_settings(Settings.from_env({}))
    assert (defaults.webhook_timeout_seconds, defaults.claim_seconds) == (10.0, 120)


@pytest.mark.parametrize(("timeout", "claim"), [("10", "10"), ("30", "20")])
def test_a_claim_no_longer_than_the_timeout_is_refused(timeout: str, claim: str) -> None:
    with pytest.raises(SettingsError, match="CANARY_ALERT_CLAIM_SECONDS must be more than CANARY_WEBHOOK_TIMEOUT"):
        Settings.from_env({"CANARY_WEBHOOK_TIMEOUT": timeout, "CANARY_ALERT_CLAIM_SECONDS": claim})


def test_a_timeout_out_of_range_is_refused() -> None:
    with pytest.raises(SettingsError, match="CANARY_WEBHOOK_TIMEOUT must be between 1 and 300"):
        Settings.from_env({"CANARY_WEBHOOK_TIMEOUT": "0"})
