"""Clients choose their access-token format.

``jwt`` (RFC 9068, verifiable with the JWKS) stays the default for every existing client; ``opaque`` tokens
are encrypted claims that resource servers introspect.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("access_token_format", sa.String(length=10), nullable=False, server_default="jwt"))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
