"""How long to wait before a retry: exponential with jitter, or what the server's ``Retry-After`` says."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 300.0  # a server asking for longer is waited on for this long, then asked again


def backoff(attempt: int, base: float = 0.25, cap: float = 30.0) -> float:
    """Full jitter: uniform in [0, min(cap, base·2^attempt)], and never less than a tenth of that bound."""
    bound = min(cap, base * 2 ** min(attempt, 30))
    return float(max(bound / 10, random.uniform(0, bound)))


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), MAX_RETRY_AFTER)
