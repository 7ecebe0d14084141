"""one foreign key from each snapshot to its ad's identity (ad, product, platform)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SNAPSHOTS = "engagement_snapshots"
AD_KEY = "fk_engagement_snapshots_ad_id_ads"
PRODUCT_KEY = "fk_engagement_snapshots_product_id_products"
IDENTITY = "uq_ads_id_product_platform"


def upgrade() -> None:
    # A snapshot copies its ad's product and platform (the rollups are keyed by them). One
    # composite key checks all three against the ad, where two keys (ad; product) checked less
    # and cost two lookups per ingested row. Deleting a product still deletes its snapshots,
    # through its ads.
    op.create_index(IDENTITY, "ads", ["id", "product_id", "platform"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(AD_KEY, SNAPSHOTS, type_="foreignkey")
        op.drop_constraint(PRODUCT_KEY, SNAPSHOTS, type_="foreignkey")
        # NOT VALID, then VALIDATE: existing rows are checked without blocking writes to ads.
        op.execute(
            f"ALTER TABLE {SNAPSHOTS} ADD CONSTRAINT {AD_KEY} FOREIGN KEY (ad_id, product_id, platform) "
            "REFERENCES ads (id, product_id, platform) ON DELETE CASCADE NOT VALID"
        )
        op.execute(f"ALTER TABLE {SNAPSHOTS} VALIDATE CONSTRAINT {AD_KEY}")
    else:
        # SQLite changes constraints by copying the table; the copy checks every row.
        with op.batch_alter_table(SNAPSHOTS, recreate="always") as batch:
            batch.drop_constraint(AD_KEY, type_="foreignkey")
            batch.drop_constraint(PRODUCT_KEY, type_="foreignkey")
            batch.create_foreign_key(
                AD_KEY,
                "ads",
                ["ad_id", "product_id", "platform"],
                ["id", "product_id", "platform"],
                ondelete="CASCADE",
            )


def downgrade() -> None:
    with op.batch_alter_table(SNAPSHOTS, recreate="auto") as batch:
        batch.drop_constraint(AD_KEY, type_="foreignkey")
        batch.create_foreign_key(AD_KEY, "ads", ["ad_id"], ["id"], ondelete="CASCADE")
        batch.create_foreign_key(PRODUCT_KEY, "products", ["product_id"], ["id"], ondelete="CASCADE")
    op.drop_index(IDENTITY, table_name="ads")
