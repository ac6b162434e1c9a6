"""Inactivity alerts: detect accounts crossing a rule's threshold, notify by signed webhook or e-mail.

State and deliveries live in SQL (`analytics.alerts.models.metadata`), so every transition is notified
exactly once and retries survive restarts.
"""

from analytics.alerts.detector import Transition, run_detection
from analytics.alerts.dispatcher import DeliveryReport, deliver_due
from analytics.alerts.models import (
    AccountAlertState,
    AlertChannel,
    AlertRule,
    Delivery,
    WebhookEndpoint,
    metadata,
)
from analytics.alerts.rules import (
    AlertConfigError,
    create_rule,
    create_webhook_endpoint,
    enable_webhook_endpoint,
    validate_url,
)
from analytics.alerts.service import AlertService, RunReport
from analytics.alerts.settings import AlertSettings, SmtpSettings
from analytics.alerts.signing import SECRET_PREFIX, InvalidSecretError, generate_webhook_secret, secret_key

__all__ = [
    "SECRET_PREFIX",
    "AccountAlertState",
    "AlertChannel",
    "AlertConfigError",
    "AlertRule",
    "AlertService",
    "AlertSettings",
    "Delivery",
    "DeliveryReport",
    "InvalidSecretError",
    "RunReport",
    "SmtpSettings",
    "Transition",
    "WebhookEndpoint",
    "create_rule",
    "create_webhook_endpoint",
    "deliver_due",
    "enable_webhook_endpoint",
    "generate_webhook_secret",
    "metadata",
    "run_detection",
    "secret_key",
    "validate_url",
]
