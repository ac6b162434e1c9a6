"""Authorization codes record whether the authorization request sent its redirect_uri.

RFC 6749 §4.1.3 requires the token request to repeat redirect_uri only when the authorization request included
it. A client with one registered URI may leave it out at /authorize; its code is then redeemed without it (one
sent anyway must still be that URI). Codes live for a minute at most: the ones in flight keep the stricter rule.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("authorization_codes") as batch:
        batch.add_column(sa.Column("redirect_uri_sent", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    raise NotImplementedError("migrations are forward-only")
