"""SQL tables of inactivity alerting, on a `MetaData` of their own (SQLite and PostgreSQL).

- `alert_rules` / `alert_channels`: who is notified, and how, when accounts go quiet.
- `webhook_endpoints`: the `secret` is a credential (`whsec_<base64>`). It is stored as given because
  signing needs the key itself; protect the database and its backups accordingly. `format` is `standard`
  (signed JSON) or `slack` (a Slack-compatible incoming webhook, `{"text": ...}`).
- `alert_account_states`: the last state notified per rule and account (per rule and organization for
  `organization.declining` rules: `account` holds the organization's id; `inactive` means declining), so that
  each transition fires exactly once across restarts. No row means "active" (nothing notified yet).
- `alert_digest_items`: transitions of a digest rule waiting for its next e-mail digest; written in the
  transaction that moves the state, removed in the one that queues the digest.
- `alert_deliveries`: outgoing notifications with their retry schedule; the payload is stored as the
  exact bytes signed and sent, so every retry carries the same `webhook-id` and body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no time zones), returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = metadata


class AlertRule(Base):
    __tablename__ = "alert_rules"
    __table_args__ = (CheckConstraint("threshold_days > 0", name="threshold_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    threshold_days: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32), default="account.inactive", server_default="account.inactive")
    """What the rule reports: `analytics.alerts.rules.KINDS`."""
    organization: Mapped[str | None] = mapped_column(String(255))
    """None: every account."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest: Mapped[str | None] = mapped_column(String(16))
    """None: e-mail recipients get each transition at once; `daily` / `weekly`: one digest per period."""
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the last digest period closed (or digests were switched on): the next closes one period later."""
    channels: Mapped[list[AlertChannel]] = relationship(
        back_populates="rule", cascade="all, delete-orphan", lazy="selectin"
    )


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive failed attempts; reset by a successful delivery."""
    format: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    """How notifications are sent: `analytics.alerts.slack.FORMATS`."""


class AlertChannel(Base):
    """One destination of a rule: a webhook endpoint or an e-mail recipient."""

    __tablename__ = "alert_channels"
    __table_args__ = (
        CheckConstraint(
            "(endpoint_id IS NULL AND email IS NOT NULL) OR (endpoint_id IS NOT NULL AND email IS NULL)",
            name="one_destination",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320))
    rule: Mapped[AlertRule] = relationship(back_populates="channels")


class AccountAlertState(Base):
    __tablename__ = "alert_account_states"
    __table_args__ = (CheckConstraint("state IN ('active', 'inactive')", name="state_known"),)

    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True)
    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
        CheckConstraint(
            "(endpoint_id IS NULL AND email IS NOT NULL) OR (endpoint_id IS NOT NULL AND email IS NULL)",
            name="one_destination",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320))
    event_type: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DigestItem(Base):
    __tablename__ = "alert_digest_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    """The notification's JSON, as an immediate delivery would carry it."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
