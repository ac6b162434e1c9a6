"""Settings of alert delivery; the provider builds them from its own configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.queries import DEFAULT_DECLINE_FRACTION, ChurnModel

DEFAULT_BACKOFF = (5, 30, 120, 600, 3600, 7200, 14400)
"""Seconds to wait after the 1st, 2nd, ... failed attempt; the last value repeats."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    interval_seconds: float = 30.0
    """How often the background loop runs detection and delivery; notifications go out within
    about one interval (plus delivery time) of an account crossing its threshold."""
    webhook_timeout_seconds: float = 10.0
    max_attempts: int = 8
    """A delivery fails for good after this many attempts."""
    disable_after_failures: int = 8
    """Consecutive failed attempts after which a webhook endpoint is disabled."""
    backoff_seconds: tuple[int, ...] = DEFAULT_BACKOFF
    claim_seconds: int = 120
    """A delivery being sent is hidden from other runners this long, in case the sender dies; longer than
    `webhook_timeout_seconds`, so that no runner sends what another is still sending."""
    batch_size: int = 100
    churn: ChurnModel = field(default_factory=ChurnModel)
    """What `account.going_quiet` rules judge by."""
    decline_fraction: float = DEFAULT_DECLINE_FRACTION
    """What `organization.declining` rules judge by."""
    allow_private_addresses: bool = False
    """Let webhooks reach loopback, private and link-local addresses (``analytics.alerts.addresses``): for
    development against local receivers only."""
    product_name: str = "Canary"
    """Named in the subject and body of notification e-mails."""

    def __post_init__(self) -> None:
        if self.interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        if self.max_attempts < 1 or self.disable_after_failures < 1:
            raise ValueError("max_attempts and disable_after_failures must be at least 1")
        if self.claim_seconds <= self.webhook_timeout_seconds:
            raise ValueError("claim_seconds must be more than webhook_timeout_seconds")
        if not self.backoff_seconds or min(self.backoff_seconds) < 0:
            raise ValueError("backoff_seconds must be non-negative and not empty")

    def backoff(self, attempts: int) -> int:
        """Delay after `attempts` failed attempts."""
        return self.backoff_seconds[min(attempts, len(self.backoff_seconds)) - 1]
