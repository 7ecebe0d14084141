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

from marketscout.adapters.sql.migrations._types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    # In place on SQLite too (ALTER TABLE ... DROP COLUMN, SQLite 3.35 or newer): a batch would
    # rebuild the table with a DROP TABLE, which with foreign keys on deletes (or sets to NULL)
    # every row referring to it in other tables.
    op.drop_column("users", "disabled_at")
