"""deliveries may be ``cancelled``

Deleting an alert rule, or changing or removing its webhook, cancels the deliveries still waiting
for the old target. The status check of ``deliveries`` allows the new status; nothing else
changes, and no stored row needs it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 17:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# As they were at this revision, written out.
BEFORE = "status IN ('pending', 'sending', 'delivered', 'dead')"
AFTER = "status IN ('pending', 'sending', 'delivered', 'dead', 'cancelled')"
NAME = "ck_deliveries_status_known"


def _check(condition: str) -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(op.f(NAME), type_="check")
        batch.create_check_constraint(op.f(NAME), condition)


def upgrade() -> None:
    _check(AFTER)


def downgrade() -> None:
    """A cancelled delivery was never sent, and will not be: dead letters, with their reason."""
    op.execute("UPDATE deliveries SET status = 'dead' WHERE status = 'cancelled'")
    _check(BEFORE)
