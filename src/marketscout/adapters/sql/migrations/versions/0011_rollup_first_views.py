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

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Written out: a migration does what it did when it was written, whatever the application's
# roll-up code (adapters/sql/rollups.py) later becomes.
ROLLUPS = ("engagement_hourly", "engagement_daily")


def _fill_first_views(table: str) -> str:
    """Each stored row's ``first_views``, the views of the reading at its ``first_seen`` (one
    probe of the snapshots' unique key per row; a row whose readings are gone keeps its lowest
    views, as windows read it before)."""
    return (
        f"UPDATE {table} SET first_views = coalesce((SELECT s.views FROM engagement_snapshots s "  # noqa: S608 - constant names
        f"WHERE s.ad_id = {table}.ad_id AND s.region = {table}.region "
        f"AND s.observed_at = {table}.first_seen), {table}.min_views)"
    )


def upgrade() -> None:
    for name in ROLLUPS:
        # As max_interactions in 0004: a default lets SQLite add the column in place.
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("first_views", sa.BigInteger(), server_default="0", nullable=False))
        op.execute(_fill_first_views(name))


def downgrade() -> None:
    for name in reversed(ROLLUPS):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("first_views")
