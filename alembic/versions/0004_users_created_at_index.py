"""Index users by creation time.

Activity reports split the accounts at a creation time (accounts created before it that were never active
count as inactive); the index makes the recent side of that split a range read instead of a table scan.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_users_created_at"), "users", ["created_at"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
