"""text stored before text was composed is composed (NFC)

Since 2026-12-03 the use cases take text in Unicode's composed form (NFC, ``domain.text``): a
product's name, description, category and keywords (case-folded too), an ad's text, external id
and advertiser, and ``products.name_key``, the name case-folded and composed. Rows stored before
hold them as typed, decomposed (NFD) or mixing both forms, which search, the namesake check and
a reading naming its ad by a composed external id do not find. SQL has no portable NFC: the rows
are read in batches by id and only those whose text changes are written, in Python, with the
rules written out below as they are at this revision (editing the domain changes no migration).

Left as stored, and logged as a warning with their ids:

- an ad's ``external_id`` whose composed form another ad of the same platform already holds
  (one created, composed, after ids were composed: ``(platform, external_id)`` is unique), or
  takes first in this migration (the oldest ad of those that compose to one id). A reading
  names, and ``POST /ads`` conflicts with, the ad holding the composed id, as before this
  migration; the other keeps its readings and is still named by its ``ad_id``. Nothing merges
  or deletes an ad.
- a value whose composed form is longer than its column (a few characters, U+0344 among them,
  compose to two): PostgreSQL would refuse it. Its name key is composed all the same.

Accounts are not touched: usernames are ASCII, and e-mail addresses are stored as typed (trimmed,
not composed). Alert messages, event keys and webhook URLs are not text the use cases compose.

Downgrade: nothing. Composition is not reversible (the typed forms are not kept), and older code
reads composed text as any other.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 19:20:00.000000
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_BATCH = 1_000
_LISTED = 20  # ids named in a warning
log = logging.getLogger("marketscout.adapters.sql.migrations")

# Each text column's length at this revision.
_PRODUCT_TEXT = {"name": 200, "description": 1000, "category": 100}
_AD_TEXT = {"ad_content": 2000, "external_id": 200, "advertiser": 200}


def _composed(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _folded(value: str) -> str:
    """``domain.text.folded`` at this revision: case-folded and composed (folding can decompose)."""
    return _composed(_composed(value).casefold())


class _Left:
    """The rows a column's text was left in, by the reason, for the log."""

    def __init__(self) -> None:
        self.too_long: dict[str, list[int]] = {}
        self.taken: list[int] = []

    def report(self) -> None:
        for column, ids in self.too_long.items():
            log.warning(
                "0019: %s of %d %s left as stored (%s): composed, it would be longer than the column",
                column,
                len(ids),
                "row" if len(ids) == 1 else "rows",
                _ids(column.partition(".")[0], ids),
            )
        if self.taken:
            one = len(self.taken) == 1
            log.warning(
                "0019: %d %s external_id as stored (%s): composed (NFC), it is the id of another ad of "
                "the same platform, which readings naming that id find; name %s by ad_id",
                len(self.taken),
                "ad keeps its" if one else "ads keep their",
                _ids("ads", self.taken),
                "it" if one else "these",
            )


def _ids(table: str, ids: Sequence[int]) -> str:
    noun = table.removesuffix("s") if len(ids) == 1 else table
    more = ", …" if len(ids) > _LISTED else ""
    return f"{noun} {', '.join(str(i) for i in ids[:_LISTED])}{more}"


def _rows(
    connection: sa.Connection, table: sa.TableClause, columns: Sequence[str]
) -> Iterator[Sequence[sa.Row[Any]]]:
    """The rows of ``table`` (id and ``columns``) in batches, by id."""
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, *(table.c[name] for name in columns))
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _composed_columns(table: str, row: sa.Row[Any], lengths: dict[str, int], left: _Left) -> dict[str, Any]:
    """Each of the row's text columns composed, where that fits its column; otherwise as stored."""
    values: dict[str, Any] = {}
    for column, length in lengths.items():
        stored: str | None = getattr(row, column)
        value = stored if stored is None else _composed(stored)
        if value is not None and value != stored and len(value) > length:
            left.too_long.setdefault(f"{table}.{column}", []).append(row.id)
            value = stored
        values[column] = value
    return values


def _table(
    name: str, *columns: sa.ColumnClause[Any], written: Sequence[str]
) -> tuple[sa.TableClause, sa.Update]:
    """The table (its id and ``columns``), and the statement that writes the ``written`` columns
    of a row (parameters ``row_id`` and ``new_{column}``)."""
    table = sa.table(name, sa.column("id", sa.BigInteger()), *columns)
    values: dict[str, Any] = {column: sa.bindparam(f"new_{column}") for column in written}
    return table, table.update().where(table.c.id == sa.bindparam("row_id")).values(values)


def _changed(row: sa.Row[Any], values: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters that write ``values`` to the row, when any differs from what it holds."""
    if all(value == getattr(row, name) for name, value in values.items()):
        return None
    return {"row_id": row.id, **{f"new_{name}": value for name, value in values.items()}}


def _compose_products(connection: sa.Connection, left: _Left) -> None:
    written = ("name_key", "keywords", *_PRODUCT_TEXT)
    products, write = _table(
        "products",
        sa.column("keywords", sa.JSON()),
        *(sa.column(name, sa.Text()) for name in ("name_key", *_PRODUCT_TEXT)),
        written=written,
    )
    for rows in _rows(connection, products, written):
        changed = []
        for row in rows:
            values = _composed_columns("products", row, _PRODUCT_TEXT, left)
            values["name_key"] = _folded(values["name"])
            values["keywords"] = list(dict.fromkeys(_folded(k) for k in row.keywords or ()))
            if (parameters := _changed(row, values)) is not None:
                changed.append(parameters)
        if changed:
            connection.execute(write, changed)


def _compose_ads(connection: sa.Connection, left: _Left) -> None:
    ads, write = _table(
        "ads",
        sa.column("platform", sa.Text()),
        *(sa.column(name, sa.Text()) for name in _AD_TEXT),
        written=tuple(_AD_TEXT),
    )
    # A platform's ids among some, through the unique index on (platform, external_id) (SQLite
    # scans the table for a list of (platform, id) pairs).
    held = sa.select(ads.c.external_id).where(
        ads.c.platform == sa.bindparam("platform"),
        ads.c.external_id.in_(sa.bindparam("external_ids", expanding=True)),
    )
    # The ids composed here (written, or about to be with their batch): the oldest ad takes one.
    claimed: set[tuple[str, str]] = set()
    for rows in _rows(connection, ads, ("platform", *_AD_TEXT)):
        batch = [(row, _composed_columns("ads", row, _AD_TEXT, left)) for row in rows]
        composed: dict[str, set[str]] = {}
        for row, values in batch:
            if values["external_id"] != row.external_id:
                composed.setdefault(row.platform, set()).add(values["external_id"])
        taken = {
            (platform, external_id)
            for platform, external_ids in composed.items()
            for external_id in connection.execute(
                held, {"platform": platform, "external_ids": sorted(external_ids)}
            ).scalars()
        }
        changed = []
        for row, values in batch:
            key = (row.platform, values["external_id"])
            if values["external_id"] != row.external_id:
                if key in taken or key in claimed:
                    left.taken.append(row.id)
                    values["external_id"] = row.external_id
                else:
                    claimed.add(key)
            if (parameters := _changed(row, values)) is not None:
                changed.append(parameters)
        if changed:
            connection.execute(write, changed)


def upgrade() -> None:
    connection = op.get_bind()
    left = _Left()
    _compose_products(connection, left)
    _compose_ads(connection, left)
    left.report()


def downgrade() -> None:
    """Nothing: composition is not reversible, and older code reads composed text as any other."""
