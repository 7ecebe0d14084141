"""an index of the ads a platform dated (first_seen_at), for the scan's look-up of their dates

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_DATED = sa.text("first_seen_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_ads_dated", "ads", ["id"], postgresql_where=_DATED, sqlite_where=_DATED)


def downgrade() -> None:
    op.drop_index("ix_ads_dated", table_name="ads")
