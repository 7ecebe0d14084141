"""hourly and daily engagement rollups, filled from the stored snapshots

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 08:41:24.584070
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketscout.adapters.sql.migrations._types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The rollups and how this revision filled them, written out: a migration does what it did when it
# was written, whatever the application's roll-up code (adapters/sql/rollups.py) later becomes.
TABLES = (("engagement_hourly", "hour"), ("engagement_daily", "day"))


def _bucket(dialect: str, unit: str) -> str:
    """The UTC hour or day of ``observed_at``."""
    if dialect == "postgresql":
        return f"date_trunc('{unit}', observed_at, 'UTC')"
    # Timestamps are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) on SQLite.
    if unit == "hour":
        return "substr(observed_at, 1, 13) || ':00:00.000000'"
    return "substr(observed_at, 1, 10) || ' 00:00:00.000000'"


def _backfill(dialect: str, table: str, unit: str) -> str:
    """Rolls up every stored snapshot into ``table``: per ad, region and bucket, the highest and
    lowest views and the times of the first and last reading."""
    greatest, least = ("GREATEST", "LEAST") if dialect == "postgresql" else ("max", "min")
    return (
        f"INSERT INTO {table} (ad_id, region, bucket, product_id, platform, max_views, min_views, "  # noqa: S608 - constant names
        f"first_seen, last_seen) SELECT ad_id, region, {_bucket(dialect, unit)}, product_id, platform, "
        "max(views), min(views), min(observed_at), max(observed_at) FROM engagement_snapshots "
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3 "
        "ON CONFLICT (ad_id, region, bucket) DO UPDATE SET "
        f"max_views = {greatest}({table}.max_views, excluded.max_views), "
        f"min_views = {least}({table}.min_views, excluded.min_views), "
        f"first_seen = {least}({table}.first_seen, excluded.first_seen), "
        f"last_seen = {greatest}({table}.last_seen, excluded.last_seen)"
    )


def _create(name: str) -> None:
    op.create_table(
        name,
        sa.Column("bucket", UtcDateTime(timezone=True), nullable=False),
        sa.Column("ad_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("max_views", sa.BigInteger(), nullable=False),
        sa.Column("min_views", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("min_views >= 0 AND max_views >= min_views", name=op.f(f"ck_{name}_views_order")),
        sa.PrimaryKeyConstraint("bucket", "ad_id", "region", name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, unit in TABLES:
        _create(name)
        op.execute(_backfill(dialect, name, unit))


def downgrade() -> None:
    for name, _ in reversed(TABLES):
        op.drop_table(name)
