"""Creating alert rules and webhook endpoints, with validation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.alerts.models import AlertChannel, AlertRule, WebhookEndpoint
from analytics.alerts.signing import InvalidSecretError, generate_webhook_secret, secret_key


class AlertConfigError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _now() -> datetime:
    return datetime.now(UTC)


def validate_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertConfigError("url", "must be an http(s) URL with a host")
    return url


def create_webhook_endpoint(
    session: Session, url: str, secret: str | None = None, description: str = ""
) -> WebhookEndpoint:
    """A new endpoint; without `secret`, one is generated (read it back from `endpoint.secret`)."""
    secret = secret or generate_webhook_secret()
    try:
        secret_key(secret)
    except InvalidSecretError as error:
        raise AlertConfigError("secret", str(error)) from error
    endpoint = WebhookEndpoint(
        url=validate_url(url), secret=secret, description=description, created_at=_now(), failure_count=0
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def enable_webhook_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    endpoint.failure_count = 0


def create_rule(
    session: Session,
    name: str,
    threshold_days: int,
    organization: str | None = None,
    endpoint_ids: Sequence[int] = (),
    emails: Sequence[str] = (),
    enabled: bool = True,
    now: datetime | None = None,
) -> AlertRule:
    """A rule notifying `endpoint_ids` and `emails` when accounts (of `organization`, or all) have been
    inactive for `threshold_days`. Its first run reports the accounts already inactive, once."""
    if not name.strip():
        raise AlertConfigError("name", "must not be empty")
    if isinstance(threshold_days, bool) or not isinstance(threshold_days, int) or threshold_days < 1:
        raise AlertConfigError("threshold_days", "must be a positive integer")
    if not endpoint_ids and not emails:
        raise AlertConfigError("channels", "give at least one webhook endpoint or e-mail recipient")
    known = set(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.id.in_(endpoint_ids))))
    for endpoint_id in endpoint_ids:
        if endpoint_id not in known:
            raise AlertConfigError("endpoint_ids", f"unknown webhook endpoint {endpoint_id}")
    for email in emails:
        if "@" not in email or any(c in email for c in "\r\n ,;"):
            raise AlertConfigError("emails", f"not an e-mail address: {email!r}")
    rule = AlertRule(
        name=name.strip(),
        threshold_days=threshold_days,
        organization=organization,
        enabled=enabled,
        created_at=now or _now(),
        channels=[AlertChannel(endpoint_id=i) for i in dict.fromkeys(endpoint_ids)]
        + [AlertChannel(email=e) for e in dict.fromkeys(emails)],
    )
    session.add(rule)
    session.flush()
    return rule
