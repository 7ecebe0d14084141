"""the account that sent each reading

Each stored engagement reading keeps the id of the account that sent it (``sender_id``; NULL
for the readings stored before, and for the operator's own collectors and commands), so that an
operator can remove one account's readings (``marketscout readings remove``). A nullable column
without a default: added in place on PostgreSQL and SQLite, existing rows untouched.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "engagement_snapshots",
        sa.Column("sender_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("engagement_snapshots") as batch:
        batch.drop_column("sender_id")
