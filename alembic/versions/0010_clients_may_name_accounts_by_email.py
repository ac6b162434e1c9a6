"""Resource servers may name the accounts of their events by e-mail address, when their client is registered so.

Existing clients keep naming accounts by ``sub`` only: an e-mail address is something a resource server could
be wrong about (an address that moved to another account), so the owner opts in per client.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("events_by_email", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
