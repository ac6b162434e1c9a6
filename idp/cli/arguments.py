"""Numbers the commands take, checked by argparse: one out of bounds is a usage error (exit 2) before any work
starts, never an overflow deep in a query. Only ASCII digits count (``int`` alone also takes "1_0" and the
digits of other scripts).

The bounds are those of the admin API for the same values; ``tests/unit/test_cli_arguments.py`` holds them
together (this module stays free of imports, so that building the parser stays cheap).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

MAX_LIMIT = 1_000_000_000  # rows a listing prints at most
MAX_ID = 2**31 - 1  # of alert rules and webhook endpoints (admin API: alerts.paths.MAX_ID)
MIN_THRESHOLD_DAYS, MAX_THRESHOLD_DAYS = 1, 3650  # of alert rules (analytics.alerts)
MAX_INACTIVE_DAYS = 36500  # of `activity inactive` (admin API: activity.schemas.MAX_INACTIVE_DAYS)
MAX_PUBLISH_DELAY = 365 * 86400  # seconds between publishing a signing key and signing with it
MAX_PORT = 65535
MAX_WORKERS = 64  # as CANARY_WORKERS
_INTEGER = re.compile(r"-?[0-9]{1,20}")


def bounded(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``minimum`` to ``maximum``."""

    def number(text: str) -> int:
        value = int(text) if _INTEGER.fullmatch(text.strip()) else None
        if value is None or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to {maximum}, not {text!r}")
        return value

    return number


limit = bounded(1, MAX_LIMIT)
record_id = bounded(1, MAX_ID)
threshold_days = bounded(MIN_THRESHOLD_DAYS, MAX_THRESHOLD_DAYS)
inactive_days = bounded(1, MAX_INACTIVE_DAYS)
publish_delay = bounded(0, MAX_PUBLISH_DELAY)
port = bounded(0, MAX_PORT)
workers = bounded(1, MAX_WORKERS)
