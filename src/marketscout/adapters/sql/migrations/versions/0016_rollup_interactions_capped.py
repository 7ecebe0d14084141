"""the rollups' interactions at most 2^63 - 1, as the engine counts them

Likes, comments and shares may each be 2^63 - 1, and the rollups kept their plain sum. On SQLite
a sum beyond 64 bits became a float (2.77e19 for three at the maximum), which re-scoring then
refused as out of range; on PostgreSQL it failed the ingest (bigint out of range), so nothing of
it is stored there. The rollups now keep the sum at most 2^63 - 1 (``rollups.saturating_sum``);
the rows stored before on SQLite are brought to it: beyond 2^63 - 1 is 2^63 - 1.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:15:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# As they were at this revision, written out: a migration does what it did when it was written,
# whatever the application's code later becomes.
ROLLUPS = ("engagement_hourly", "engagement_daily")
MAX_COUNT = 2**63 - 1


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # nothing beyond 64 bits was ever stored: not worth a scan of the rollups
    for name in ROLLUPS:
        # SQLite compares a float with an integer exactly: 2^63 as a float is above 2^63 - 1.
        op.execute(
            f"UPDATE {name} SET max_interactions = {MAX_COUNT} "  # noqa: S608 - constant names
            f"WHERE max_interactions > {MAX_COUNT}"
        )


def downgrade() -> None:
    """Nothing to undo: the figures kept are what the engine counted anyway."""
