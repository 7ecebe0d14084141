"""products.name_key: the name case-folded as Python folds it, what name search compares

SQL's lower() folds only ASCII on SQLite and differs from Python's casefold() elsewhere (ß, ﬁ),
so a search typed exactly as the name (``Ünicode``) found nothing on SQLite while the memory
store found it. The key is written with the name; existing rows are folded here, in Python.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 1_000


def upgrade() -> None:
    op.add_column("products", sa.Column("name_key", sa.Text(), nullable=False, server_default=""))
    connection = op.get_bind()
    products = sa.table("products", sa.column("id", sa.BigInteger()), sa.column("name", sa.Text()))
    keyed = sa.table("products", sa.column("id", sa.BigInteger()), sa.column("name_key", sa.Text()))
    last = 0
    while True:
        rows = connection.execute(
            sa.select(products.c.id, products.c.name)
            .where(products.c.id > last)
            .order_by(products.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            keyed.update().where(keyed.c.id == sa.bindparam("product_id")),
            [{"product_id": product_id, "name_key": name.casefold()} for product_id, name in rows],
        )
        last = rows[-1][0]


def downgrade() -> None:
    # In place on SQLite too (ALTER TABLE ... DROP COLUMN, SQLite 3.35 or newer): a batch would
    # rebuild the table with a DROP TABLE, which with foreign keys on deletes (or sets to NULL)
    # every row referring to it in other tables.
    op.drop_column("products", "name_key")
