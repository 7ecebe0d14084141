"""CSV exports of a user's own data, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from marketscout.domain.errors import InvalidValue
from marketscout.domain.ports import UnitOfWork

EXPORT_TYPES = ("watchlist", "trends")
WATCHLIST_HEADER = ("Product ID", "Product Name", "Description", "Added Date")
TRENDS_HEADER = ("Product ID", "Product Name", "Trend Score", "Date")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Prefixes a quote to cells a spreadsheet would run as a formula (OWASP CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(str(cell)) for cell in row])
    return buffer.getvalue()


async def export_csv(uow: UnitOfWork, *, user_id: int, data_type: str) -> str:
    """The user's watchlist, or the score history of the products on it, as CSV."""
    if data_type not in EXPORT_TYPES:
        raise InvalidValue("data_type", f"must be one of: {', '.join(EXPORT_TYPES)}")
    async with uow:
        entries = await uow.watchlists.list(user_id)
        products = await uow.products.get_many(e.product_id for e in entries)
        if data_type == "watchlist":
            rows: list[Sequence[object]] = [
                (
                    e.product_id,
                    products[e.product_id].name,
                    products[e.product_id].description,
                    e.created_at.isoformat(),
                )
                for e in entries
                if e.product_id in products
            ]
            return to_csv(WATCHLIST_HEADER, rows)
        rows = []
        for entry in entries:
            product = products.get(entry.product_id)
            if product is None:
                continue
            for score in await uow.scores.history(product.id):
                rows.append((product.id, product.name, f"{score.score:.1f}", score.calculated_at.isoformat()))
    return to_csv(TRENDS_HEADER, rows)
