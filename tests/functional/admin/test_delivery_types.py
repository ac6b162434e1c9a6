"""Every kind of delivery the alert service stores is listed by /alerts/deliveries as the OpenAPI document
says: its ``type`` enum holds every event type detection sends and the e-mail digest's."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import get_args

import pytest
from sqlalchemy import delete

from analytics.alerts import DIGEST_EVENT, Delivery
from analytics.alerts.detector import EventType
from idp.db import transaction
from tests.functional.admin.conftest import Admin, Spec
from tests.functional.conftest import Provider

SENT = ["account.inactive", "account.reactivated", "account.going_quiet", "organization.declining",
        "organization.recovered", "alert.digest"]


def test_the_documented_types_are_detections_and_the_digest(spec: Spec) -> None:
    enum = spec.document["components"]["schemas"]["AlertDelivery"]["properties"]["type"]["enum"]
    assert enum == [*get_args(EventType), DIGEST_EVENT]
    assert set(SENT) <= set(enum)


@pytest.fixture
def stored(provider: Provider) -> Iterator[dict[str, str]]:
    """One failed e-mail delivery of each type (failed: never picked up for sending); type → account."""
    now = datetime.now(UTC)
    accounts = {kind: f"{'rule 1' if kind == DIGEST_EVENT else secrets.token_hex(8)}" for kind in SENT}
    ids: list[int] = []
    with transaction(provider.context.factory) as db:
        rows = [Delivery(message_id=f"msg_{secrets.token_hex(16)}", rule_id=None, endpoint_id=None,
                         email="owner@example.com", event_type=kind, account=account, payload="{}", attempts=1,
                         status="failed", next_attempt_at=now, created_at=now, last_error="test")
                for kind, account in accounts.items()]
        db.add_all(rows)
        db.flush()
        ids = [row.id for row in rows]
    yield accounts
    with transaction(provider.context.factory) as db:
        db.execute(delete(Delivery).where(Delivery.id.in_(ids)))


def test_every_delivery_type_is_listed_as_documented(admin: Admin, stored: dict[str, str]) -> None:
    page = admin.ok("GET", "/alerts/deliveries", params={"status": "failed", "limit": 200})  # checked against the spec
    listed = {d["type"]: d["account"] for d in page["items"] if d["account"] in stored.values()}
    assert listed == stored
