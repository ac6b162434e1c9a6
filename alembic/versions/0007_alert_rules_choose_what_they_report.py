"""Alert rules choose what they report: an account going inactive (as every rule so far), an account going
quiet by its own rhythm, or an organization in decline.

Existing rules keep reporting inactive accounts (`account.inactive`, the server default).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_rules") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=False, server_default="account.inactive"))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
