"""interactions in the engagement rollups, and the hourly rollup indexed by product

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
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


# A reading's interactions, likes + comments + shares, at most 2^63 - 1 (the engine's count)
# without a sum beyond it: a CASE takes its branches in order, so a partial sum is only
# computed once the previous test found room for it.
_MAX = 2**63 - 1
_INTERACTIONS = (
    f"CASE WHEN likes > {_MAX} - comments THEN {_MAX} "
    f"WHEN likes + comments > {_MAX} - shares THEN {_MAX} "
    "ELSE likes + comments + shares END"
)


def _backfill(dialect: str, table: str, unit: str) -> str:
    """Rolls up every stored snapshot into ``table`` again, interactions included: views and
    times are maxima and minima of the same rows, so they stay as they are."""
    greatest, least = ("GREATEST", "LEAST") if dialect == "postgresql" else ("max", "min")
    return (
        f"INSERT INTO {table} (ad_id, region, bucket, product_id, platform, max_views, min_views, "  # noqa: S608 - constant names
        f"first_seen, last_seen, max_interactions) SELECT ad_id, region, {_bucket(dialect, unit)}, "
        "product_id, platform, max(views), min(views), min(observed_at), max(observed_at), "
        f"max({_INTERACTIONS}) FROM engagement_snapshots "
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3 "
        "ON CONFLICT (ad_id, region, bucket) DO UPDATE SET "
        f"max_views = {greatest}({table}.max_views, excluded.max_views), "
        f"min_views = {least}({table}.min_views, excluded.min_views), "
        f"first_seen = {least}({table}.first_seen, excluded.first_seen), "
        f"last_seen = {greatest}({table}.last_seen, excluded.last_seen), "
        f"max_interactions = {greatest}({table}.max_interactions, excluded.max_interactions)"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, unit in TABLES:
        with op.batch_alter_table(name) as batch:
            batch.add_column(
                sa.Column("max_interactions", sa.BigInteger(), server_default="0", nullable=False)
            )
        # Every stored snapshot again: views are unchanged (maxima and minima of the same rows),
        # interactions are filled in.
        op.execute(_backfill(dialect, name, unit))
    op.create_index("ix_engagement_hourly_product_bucket", "engagement_hourly", ["product_id", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_engagement_hourly_product_bucket", table_name="engagement_hourly")
    for name, _ in reversed(TABLES):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("max_interactions")
