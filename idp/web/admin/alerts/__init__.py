"""/admin/api/v1/alerts: inactivity alert rules, the webhook endpoints they notify, and recent deliveries.

Rules, endpoints and deliveries live in the accounts database (``analytics.alerts.models``), so these
operations work whether or not analytics is configured; the alert service that acts on them runs only
with analytics. What a rule or an endpoint may say is checked by ``analytics.alerts`` alone: these modules
parse, call and render.
"""

from __future__ import annotations

from idp.web.admin.alerts import deliveries, rules, webhooks
from idp.web.admin.routing import Operation

OPERATIONS: list[Operation] = [*rules.OPERATIONS, *webhooks.OPERATIONS, *deliveries.OPERATIONS]
