"""the views of each rollup row's first reading

Window gains start, when nothing comes before the window, from the first reading inside it:
each hourly and daily rollup row keeps the views of its first reading (the one at
``first_seen``), so windows no longer look that reading up in the snapshots. Stored rows are
filled from the snapshots.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketscout.adapters.sql import rollups

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name, _ in rollups.TABLES:
        # As max_interactions in 0004: a default lets SQLite add the column in place.
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("first_views", sa.BigInteger(), server_default="0", nullable=False))
        op.execute(rollups.fill_first_views(name))


def downgrade() -> None:
    for name, _ in reversed(rollups.TABLES):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("first_views")
