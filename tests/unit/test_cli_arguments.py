"""The numbers the `canary` command takes: bounded by argparse, with the bounds of the admin API and the
services for the same values (the command's module imports none of them, to start fast)."""

from __future__ import annotations

import argparse

import pytest

from analytics.alerts import MAX_THRESHOLD_DAYS, MIN_THRESHOLD_DAYS
from idp.cli import arguments
from idp.settings import MAX_PORT, MAX_WORKERS
from idp.web.admin.activity.schemas import MAX_INACTIVE_DAYS
from idp.web.admin.alerts.paths import MAX_ID


def test_the_bounds_are_those_of_the_api_and_the_settings() -> None:
    assert (arguments.MIN_THRESHOLD_DAYS, arguments.MAX_THRESHOLD_DAYS) == (MIN_THRESHOLD_DAYS, MAX_THRESHOLD_DAYS)
    assert arguments.MAX_INACTIVE_DAYS == MAX_INACTIVE_DAYS
    assert arguments.MAX_ID == MAX_ID
    assert (arguments.MAX_PORT, arguments.MAX_WORKERS) == (MAX_PORT, MAX_WORKERS)


@pytest.mark.parametrize("text", ["-1", "0", "1001", "99999999999999999999999", "\u00b2", "\u0661", "1_0", "1.0",
                                  "", "ten", "1e3"])
def test_out_of_bounds_or_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 1000"):
        arguments.bounded(1, 1000)(text)


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("1000", 1000), (" 42 ", 42), ("007", 7)])
def test_whole_numbers_within_bounds(text: str, value: int) -> None:
    assert arguments.bounded(1, 1000)(text) == value
