"""The supervisor's pause before replacing a worker killed by a signal."""

from __future__ import annotations

import pytest

from idp.workers import MAX_PAUSE_SECONDS, STARTUP_SECONDS, restart_pause


def test_a_worker_that_ran_a_while_is_replaced_at_once() -> None:
    assert restart_pause(lived=3600.0, quick_deaths=0) == 0.0


@pytest.mark.parametrize(("quick_deaths", "pause"), [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 60.0),
                                                     (50, 60.0)])
def test_deaths_at_start_double_the_pause_up_to_a_minute(quick_deaths: int, pause: float) -> None:
    assert STARTUP_SECONDS == 5.0 and MAX_PAUSE_SECONDS == 60.0
    assert restart_pause(lived=0.0, quick_deaths=quick_deaths) == pause


def test_the_pause_counts_from_the_workers_start() -> None:
    assert restart_pause(lived=2.0, quick_deaths=1) == 3.0
    assert restart_pause(lived=4.5, quick_deaths=3) == 15.5
