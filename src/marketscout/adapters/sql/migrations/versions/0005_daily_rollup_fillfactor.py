"""room on the daily rollup's pages for its hourly updates (PostgreSQL fillfactor)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each ingested hour rewrites that day's row of every active ad. With half of each page free,
    # PostgreSQL keeps the new version on the same page (a HOT update: no new index entry), so a
    # day's rows stay together on disk and the primary key does not bloat. SQLite has no such knob.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE engagement_daily SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE engagement_daily RESET (fillfactor)")
