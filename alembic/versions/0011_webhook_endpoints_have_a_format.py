"""Webhook endpoints have a format: `standard` (signed JSON, as every endpoint so far) or `slack` (a
Slack-compatible incoming webhook receiving `{"text": ...}`).

Existing endpoints keep the standard format (the server default).

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


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
