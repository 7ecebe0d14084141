"""access tokens that end before they expire

``users.tokens_valid_after``: the account's access tokens issued before this instant no longer
count (set when the password is changed or the operator sets it); NULL for every existing
account, whose tokens all count as before. A nullable column without a default, added in place.

``revoked_access_tokens``: the ids (``jti``) of access tokens ended by a log-out, each with the
time its token expires, so that rows whose token has expired can be pruned (index on
``expires_at``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from marketscout.adapters.sql.migrations._types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("tokens_valid_after", UtcDateTime(), nullable=True))
    op.create_table(
        "revoked_access_tokens",
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_revoked_access_tokens")),
    )
    op.create_index(
        op.f("ix_revoked_access_tokens_expires_at"), "revoked_access_tokens", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_revoked_access_tokens_expires_at"), table_name="revoked_access_tokens")
    op.drop_table("revoked_access_tokens")
    # In place on SQLite too (ALTER TABLE ... DROP COLUMN, SQLite 3.35 or newer): a batch would
    # rebuild the table with a DROP TABLE, which with foreign keys on deletes (or sets to NULL)
    # every row referring to it in other tables.
    op.drop_column("users", "tokens_valid_after")
