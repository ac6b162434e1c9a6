"""/admin/api/v1/alerts/deliveries: notifications sent or to be sent, newest first.

A delivery's ``type`` is one of the event types detection notifies (the ``type`` of
``analytics.alerts.Transition``, the one place they are listed) or the e-mail digest's; the schema is built from
them, so that a new kind of notification is documented as soon as it is sent.
"""

from __future__ import annotations

from typing import Any

from analytics.alerts import DIGEST_EVENT, EVENT_TYPES, STATUSES, deliveries_page, delivery_dict
from idp.web.admin import paging
from idp.web.admin.alerts.paths import ID, TAG
from idp.web.admin.routing import Call, Operation, Parameter
from idp.web.admin.schemas import OPTIONAL_TIMESTAMP, TIMESTAMP, define, obj, string

STATUS = Parameter("status", "query", {"type": "string", "enum": list(STATUSES)},
                   "only deliveries in this state")

TYPES = [*EVENT_TYPES, DIGEST_EVENT]

DELIVERY = define("AlertDelivery", obj({
    "id": ID,
    "message_id": string("the `webhook-id` header; the same on every attempt"),
    "type": string("what is notified: an account's or an organization's change, or an e-mail digest "
                   f"(`{DIGEST_EVENT}`) of a rule's changes", enum=TYPES),
    "rule_id": {"type": ["integer", "null"], "description": "null when the rule was deleted since"},
    "account": string("whom the notification is about: the account's id for `account.*` types, the "
                      f"organization's id for `organization.*` types, `rule <id>` for `{DIGEST_EVENT}`"),
    "webhook_id": {"type": ["integer", "null"], "description": "the webhook endpoint, or null for e-mail"},
    "email": {"type": ["string", "null"], "description": "the e-mail recipient, or null for a webhook"},
    "status": string(enum=list(STATUSES)),
    "attempts": {"type": "integer", "minimum": 0},
    "last_error": {"type": ["string", "null"]},
    "next_attempt_at": {**OPTIONAL_TIMESTAMP, "description": "when a pending delivery is tried next; null once "
                        "delivered or failed"},
    "created_at": TIMESTAMP,
    "delivered_at": OPTIONAL_TIMESTAMP,
}))
DELIVERY_PAGE = paging.page_of("AlertDeliveryPage", DELIVERY)


def list_deliveries(call: Call) -> dict[str, Any]:
    rows, total = deliveries_page(call.db, call.query.get("status"), *paging.window(call))
    return paging.page(call, [delivery_dict(d) for d in rows], total)


OPERATIONS = [
    Operation("GET", "/alerts/deliveries", list_deliveries, "listAlertDeliveries", "Recent deliveries", TAG,
              DELIVERY_PAGE, parameters=(STATUS, *paging.PARAMETERS),
              description="Notifications sent or to be sent, newest first, with their attempts and last error."),
]
