"""hourly and daily engagement rollups, filled from the stored snapshots

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 08:41:24.584070
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketscout.adapters.sql.tables
from marketscout.adapters.sql import rollups

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _create(name: str) -> None:
    op.create_table(
        name,
        sa.Column("bucket", marketscout.adapters.sql.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ad_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("max_views", sa.BigInteger(), nullable=False),
        sa.Column("min_views", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", marketscout.adapters.sql.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", marketscout.adapters.sql.tables.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("min_views >= 0 AND max_views >= min_views", name=op.f(f"ck_{name}_views_order")),
        sa.PrimaryKeyConstraint("bucket", "ad_id", "region", name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, unit in rollups.TABLES:
        _create(name)
        op.execute(rollups.backfill(dialect, name, unit, interactions=False, first=False))


def downgrade() -> None:
    for name, _ in reversed(rollups.TABLES):
        op.drop_table(name)
