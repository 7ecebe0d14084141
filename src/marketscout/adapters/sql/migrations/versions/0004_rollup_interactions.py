"""interactions in the engagement rollups, and the hourly rollup indexed by product

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketscout.adapters.sql import rollups

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, unit in rollups.TABLES:
        with op.batch_alter_table(name) as batch:
            batch.add_column(
                sa.Column("max_interactions", sa.BigInteger(), server_default="0", nullable=False)
            )
        # Every stored snapshot again: views are unchanged (maxima and minima of the same rows),
        # interactions are filled in.
        op.execute(rollups.backfill(dialect, name, unit, first=False))
    op.create_index("ix_engagement_hourly_product_bucket", "engagement_hourly", ["product_id", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_engagement_hourly_product_bucket", table_name="engagement_hourly")
    for name, _ in reversed(rollups.TABLES):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("max_interactions")
