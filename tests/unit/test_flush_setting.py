"""How long accepted events wait in the spool before an insert (``CANARY_ANALYTICS_FLUSH_SECONDS``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.bootstrap import open_analytics
from idp.settings import Settings, SettingsError


def test_the_default_is_five_seconds_and_the_writer_gets_the_setting(tmp_path: Path) -> None:
    assert Settings.from_env({}).analytics_flush_seconds == 5.0
    settings = Settings.from_env({"CANARY_ANALYTICS_FLUSH_SECONDS": "0.5", "CANARY_DATA_DIR": str(tmp_path)})
    analytics = open_analytics(settings)
    try:
        assert analytics.writer.interval == 0.5  # type: ignore[attr-defined]
    finally:
        analytics.close()


@pytest.mark.parametrize("value", ["0", "0.05", "61", "-1"])
def test_a_wait_out_of_range_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=r"CANARY_ANALYTICS_FLUSH_SECONDS must be between 0\.1 and 60"):
        Settings.from_env({"CANARY_ANALYTICS_FLUSH_SECONDS": value})


def test_a_wait_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(SettingsError, match="CANARY_ANALYTICS_FLUSH_SECONDS must be a number"):
        Settings.from_env({"CANARY_ANALYTICS_FLUSH_SECONDS": "soon"})
