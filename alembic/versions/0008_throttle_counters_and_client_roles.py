"""Throttle counters shared by every node; clients may be resource servers, and may be disabled.

``throttle_counts`` keeps the sliding-window counters of sign-in and client-authentication limits in the
accounts database, so that every worker and node counts together (``idp.accounts.throttle``).
``clients.resource_server`` marks the clients allowed to introspect other clients' tokens (RFC 7662 §4: the
server decides who may learn about a token); ``clients.disabled`` stops a client and its tokens without
deleting it. Both are false for every existing client.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_counts",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start"),
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("resource_server", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
