"""each product's latest score in a table of its own, kept with every score stored

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketscout.adapters.sql.migrations._types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trend_scores_latest",
        sa.Column("product_id", Id, nullable=False),
        sa.Column("score_id", Id, nullable=False),
        sa.Column("calculated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name="fk_trend_scores_latest_product_id_products",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["score_id"],
            ["trend_scores.id"],
            name="fk_trend_scores_latest_score_id_trend_scores",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name="pk_trend_scores_latest"),
    )
    op.create_index("ix_trend_scores_latest_score", "trend_scores_latest", ["score", "product_id"])
    # The latest of each product's stored scores: the greatest calculated_at, then id.
    op.execute(
        "INSERT INTO trend_scores_latest (product_id, score_id, calculated_at, score, status) "
        "SELECT product_id, id, calculated_at, score, status FROM ("
        "SELECT product_id, id, calculated_at, score, status, row_number() OVER "
        "(PARTITION BY product_id ORDER BY calculated_at DESC, id DESC) AS rank FROM trend_scores"
        ") AS ranked WHERE rank = 1"
    )


def downgrade() -> None:
    op.drop_index("ix_trend_scores_latest_score", table_name="trend_scores_latest")
    op.drop_table("trend_scores_latest")
