"""each product's latest score no longer a foreign key to the score history

``trend_scores_latest.score_id`` pointed at ``trend_scores`` with ON DELETE CASCADE. The store
writes both in the same statements and removes no product's latest score (``marketscout scores
prune`` keeps it; deleting a product removes its row through ``product_id``), so the cascade never
had anything to do, but PostgreSQL ran it for every score removed: without an index on
``score_id``, a scan of the latest table per removed score (pruning 3.1 million scores of
100,000 products ran for over ten minutes before it was stopped). An index there would cost
every re-scoring's write instead. The ids stay as they are.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 07:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trend_scores_latest") as batch:
        batch.drop_constraint("fk_trend_scores_latest_score_id_trend_scores", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("trend_scores_latest") as batch:
        batch.create_foreign_key(
            "fk_trend_scores_latest_score_id_trend_scores",
            "trend_scores",
            ["score_id"],
            ["id"],
            ondelete="CASCADE",
        )
