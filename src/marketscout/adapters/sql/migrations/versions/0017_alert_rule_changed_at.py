"""when what an alert rule asks last changed

``alert_rules.changed_at``: set when a rule's kind, product, threshold or window is changed, so
the rule is judged from then, as a rule made then (an episode over before the change is not
news to it), while ``created_at`` stays the moment it was made. NULL for every existing rule,
judged from its creation as before. A nullable column without a default, added in place.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketscout.adapters.sql.migrations._types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_rules", sa.Column("changed_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    # In place on SQLite too (ALTER TABLE ... DROP COLUMN, SQLite 3.35 or newer): a batch would
    # rebuild the table with a DROP TABLE, which with foreign keys on deletes (or sets to NULL)
    # every row referring to it in other tables.
    op.drop_column("alert_rules", "changed_at")
