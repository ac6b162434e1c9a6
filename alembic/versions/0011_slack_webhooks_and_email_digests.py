"""Webhook endpoints have a format: `standard` (signed JSON, as every endpoint so far) or `slack` (a
Slack-compatible incoming webhook receiving `{"text": ...}`). Alert rules may send their e-mail as a daily or
weekly digest; the transitions waiting for it are `alert_digest_items`.

Existing endpoints keep the standard format (the server default); existing rules keep immediate e-mail.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("format", sa.String(length=16), nullable=False, server_default="standard"))
    with op.batch_alter_table("alert_rules") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("digest_sent_at", sa.DateTime(), nullable=True))
    op.create_table(
        "alert_digest_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], name=op.f("fk_alert_digest_items_rule_id_alert_rules"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_digest_items")),
    )
    op.create_index(op.f("ix_alert_digest_items_rule_id"), "alert_digest_items", ["rule_id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
