"""Inactivity alerts: detect accounts crossing a rule's threshold, notify by signed webhook or e-mail.

State and deliveries live in SQL (`analytics.alerts.models.metadata`), so every transition is notified
exactly once and retries survive restarts. Rules and webhook endpoints are created, changed and checked
only through `analytics.alerts.rules` and `analytics.alerts.endpoints`.
"""

from analytics.alerts.addresses import ForbiddenAddress, GuardedTransport
from analytics.alerts.detector import EVENT_TYPES, Transition, run_detection
from analytics.alerts.digest import DIGEST_EVENT, enqueue_digests
from analytics.alerts.dispatcher import DeliveryReport, deliver_due
from analytics.alerts.email import MailAttempt, MailTransport
from analytics.alerts.email_syntax import is_email_address
from analytics.alerts.endpoints import (
    MAX_DESCRIPTION_LENGTH,
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    EndpointChanges,
    create_webhook_endpoint,
    delete_webhook_endpoint,
    enable_webhook_endpoint,
    get_webhook_endpoint,
    update_webhook_endpoint,
    validate_url,
    webhook_dict,
    webhook_endpoints_page,
)
from analytics.alerts.errors import AlertConfigError, EndpointInUse, UnknownEndpoint, UnknownRule
from analytics.alerts.models import (
    AccountAlertState,
    AlertChannel,
    AlertRule,
    Delivery,
    DigestItem,
    WebhookEndpoint,
    metadata,
)
from analytics.alerts.outbox import STATUSES, deliveries_page, delivery_dict
from analytics.alerts.probe import TEST_EVENT, send_test_notification
from analytics.alerts.rules import (
    DIGESTS,
    KINDS,
    MAX_EMAIL_LENGTH,
    MAX_EMAILS,
    MAX_NAME_LENGTH,
    MAX_ORGANIZATION_LENGTH,
    MAX_THRESHOLD_DAYS,
    MAX_WEBHOOKS,
    MIN_EMAIL_LENGTH,
    MIN_THRESHOLD_DAYS,
    OrganizationResolver,
    RuleChanges,
    create_rule,
    delete_rule,
    get_rule,
    rule_dict,
    rules_page,
    update_rule,
)
from analytics.alerts.service import AlertService, RunReport
from analytics.alerts.settings import AlertSettings
from analytics.alerts.signing import SECRET_PREFIX, InvalidSecretError, generate_webhook_secret, secret_key
from analytics.alerts.slack import FORMATS, OrganizationNamer, slack_text
from analytics.alerts.webhooks import Outcome

__all__ = [
    "DIGESTS",
    "DIGEST_EVENT",
    "EVENT_TYPES",
    "FORMATS",
    "KINDS",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_EMAILS",
    "MAX_EMAIL_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_ORGANIZATION_LENGTH",
    "MAX_SECRET_LENGTH",
    "MAX_THRESHOLD_DAYS",
    "MAX_URL_LENGTH",
    "MAX_WEBHOOKS",
    "MIN_EMAIL_LENGTH",
    "MIN_THRESHOLD_DAYS",
    "SECRET_PREFIX",
    "STATUSES",
    "TEST_EVENT",
    "AccountAlertState",
    "AlertChannel",
    "AlertConfigError",
    "AlertRule",
    "AlertService",
    "AlertSettings",
    "Delivery",
    "DeliveryReport",
    "DigestItem",
    "EndpointChanges",
    "EndpointInUse",
    "ForbiddenAddress",
    "GuardedTransport",
    "InvalidSecretError",
    "MailAttempt",
    "MailTransport",
    "OrganizationNamer",
    "OrganizationResolver",
    "Outcome",
    "RuleChanges",
    "RunReport",
    "Transition",
    "UnknownEndpoint",
    "UnknownRule",
    "WebhookEndpoint",
    "create_rule",
    "create_webhook_endpoint",
    "delete_rule",
    "delete_webhook_endpoint",
    "deliver_due",
    "deliveries_page",
    "delivery_dict",
    "enable_webhook_endpoint",
    "enqueue_digests",
    "generate_webhook_secret",
    "get_rule",
    "get_webhook_endpoint",
    "is_email_address",
    "metadata",
    "rule_dict",
    "rules_page",
    "run_detection",
    "secret_key",
    "send_test_notification",
    "slack_text",
    "update_rule",
    "update_webhook_endpoint",
    "validate_url",
    "webhook_dict",
    "webhook_endpoints_page",
]
