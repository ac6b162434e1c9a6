"""The notifications sent or to be sent, as the operator reads them: newest first, with their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.alerts.models import Delivery

STATUSES = ("pending", "delivered", "failed")


def deliveries_page(
    session: Session, status: str | None, offset: int, limit: int
) -> tuple[list[Delivery], int]:
    """Deliveries (in `status`, or all), newest first, and how many there are."""
    stmt = select(Delivery)
    if status is not None:
        stmt = stmt.where(Delivery.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def delivery_dict(delivery: Delivery) -> dict[str, Any]:
    """What the admin API shows of a delivery; `next_attempt_at` only while it is pending."""
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "type": delivery.event_type,
        "rule_id": delivery.rule_id,
        "account": delivery.account,
        "webhook_id": delivery.endpoint_id,
        "email": delivery.email,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "next_attempt_at": _iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "created_at": _iso(delivery.created_at),
        "delivered_at": _iso(delivery.delivered_at),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
