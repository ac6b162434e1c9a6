"""A test notification: one message signed with a webhook endpoint's secret and sent at once, so that an
operator can check the receiver and its signature check before an account goes quiet.

It is not queued, retried, listed among deliveries, nor counted in the endpoint's failures; it goes to a
disabled endpoint too, so that a receiver can be checked before the endpoint is enabled again. Like every
webhook it reaches public addresses only, checked after resolution (``analytics.alerts.addresses``).
"""

from __future__ import annotations

import json
from datetime import datetime

import httpx

from analytics.alerts.addresses import GuardedTransport
from analytics.alerts.detector import new_message_id
from analytics.alerts.models import WebhookEndpoint
from analytics.alerts.settings import AlertSettings
from analytics.alerts.slack import slack_body
from analytics.alerts.webhooks import Outcome, send_webhook

TEST_EVENT = "canary.test"


def send_test_notification(
    endpoint: WebhookEndpoint,
    settings: AlertSettings,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
) -> Outcome:
    """POST a `canary.test` message to `endpoint` (read beforehand; no database work happens here)."""
    body = json.dumps({
        "type": TEST_EVENT,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {"webhook_id": endpoint.id, "message": "A test notification from Canary: this endpoint "
                 "receives signed notifications."},
    })
    guarded = transport or GuardedTransport(settings.allow_private_addresses)
    with httpx.Client(timeout=settings.webhook_timeout_seconds, transport=guarded, follow_redirects=False,
                      trust_env=False, headers={"user-agent": "canary-webhooks/1"}) as client:
        if endpoint.format == "slack":
            return send_webhook(client, endpoint.url, endpoint.secret, new_message_id(),
                                slack_body(body, product=settings.product_name), signed=False)
        return send_webhook(client, endpoint.url, endpoint.secret, new_message_id(), body)
