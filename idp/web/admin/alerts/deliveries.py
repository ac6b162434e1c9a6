"""/admin/api/v1/alerts/deliveries: notifications sent or to be sent, newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from analytics.alerts import Delivery
from idp.web.admin import paging
from idp.web.admin.alerts.paths import ID, TAG
from idp.web.admin.routing import Call, Operation, Parameter
from idp.web.admin.schemas import OPTIONAL_TIMESTAMP, TIMESTAMP, define, obj, string

STATUS = Parameter("status", "query", {"type": "string", "enum": ["pending", "delivered", "failed"]},
                   "only deliveries in this state")

DELIVERY = define("AlertDelivery", obj({
    "id": ID,
    "message_id": string("the `webhook-id` header; the same on every attempt"),
    "type": string(enum=["account.inactive", "account.reactivated"]),
    "rule_id": {"type": ["integer", "null"], "description": "null when the rule was deleted since"},
    "account": string("the account's id"),
    "webhook_id": {"type": ["integer", "null"], "description": "the webhook endpoint, or null for e-mail"},
    "email": {"type": ["string", "null"], "description": "the e-mail recipient, or null for a webhook"},
    "status": string(enum=["pending", "delivered", "failed"]),
    "attempts": {"type": "integer", "minimum": 0},
    "last_error": {"type": ["string", "null"]},
    "next_attempt_at": {**OPTIONAL_TIMESTAMP, "description": "when a pending delivery is tried next; null once "
                        "delivered or failed"},
    "created_at": TIMESTAMP,
    "delivered_at": OPTIONAL_TIMESTAMP,
}))
DELIVERY_PAGE = paging.page_of("AlertDeliveryPage", DELIVERY)


def _timestamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id, "message_id": delivery.message_id, "type": delivery.event_type,
        "rule_id": delivery.rule_id, "account": delivery.account, "webhook_id": delivery.endpoint_id,
        "email": delivery.email, "status": delivery.status, "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "next_attempt_at": _timestamp(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "created_at": _timestamp(delivery.created_at), "delivered_at": _timestamp(delivery.delivered_at),
    }


def list_deliveries(call: Call) -> dict[str, Any]:
    stmt = select(Delivery)
    if "status" in call.query:
        stmt = stmt.where(Delivery.status == call.query["status"])
    offset, limit = paging.window(call)
    total = call.db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = call.db.scalars(stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc()).offset(offset).limit(limit))
    return paging.page(call, [delivery_json(d) for d in rows], total)


OPERATIONS = [
    Operation("GET", "/alerts/deliveries", list_deliveries, "listAlertDeliveries", "Recent deliveries", TAG,
              DELIVERY_PAGE, parameters=(STATUS, *paging.PARAMETERS),
              description="Notifications sent or to be sent, newest first, with their attempts and last error."),
]
