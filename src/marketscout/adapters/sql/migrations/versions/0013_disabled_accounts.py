"""accounts the operator has disabled

``users.disabled_at``: when the operator disabled the account (``marketscout users disable``);
NULL while it is enabled, as every existing account is. A disabled account cannot log in,
refresh or use its access tokens. A nullable column without a default, added in place.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 05:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketscout.adapters.sql.tables import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
