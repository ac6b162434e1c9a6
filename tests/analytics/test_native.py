"""The Native insert packet is written with clickhouse-driver's internals: a driver without them fails here."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from analytics.clickhouse import native


def test_the_installed_clickhouse_driver_has_the_internals_the_native_insert_uses() -> None:
    missing = native.incompatibilities()
    assert not missing, (
        f"clickhouse-driver {version('clickhouse-driver')} lacks what analytics/clickhouse/native.py writes "
        f"inserts with: {', '.join(missing)}. Adapt that module to this version, or pin the driver."
    )


def test_a_missing_internal_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(native.INTERNALS, "clickhouse_driver.client", ("Client.receive_sample_block",
                                                                        "Client.no_such_step"))
    monkeypatch.setitem(native.INTERNALS, "clickhouse_driver.no_such_module", ("anything",))
    missing = native.incompatibilities()
    assert "clickhouse_driver.client.Client.no_such_step" in missing
    assert [m for m in missing if m.startswith("clickhouse_driver.no_such_module ")]
    assert len(missing) == 2
