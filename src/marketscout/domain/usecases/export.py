"""CSV exports of a user's own data and of the public lists, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from marketscout.domain.errors import InvalidValue
from marketscout.domain.ports import UnitOfWork
from marketscout.domain.usecases.trends import ScanPage, TrendingItem

EXPORT_TYPES = ("watchlist", "trends")
WATCHLIST_HEADER = ("Product ID", "Product Name", "Description", "Added Date")
TRENDS_HEADER = ("Product ID", "Product Name", "Trend Score", "Date")
# The dashboard's Trending and Viral ads lists as downloaded (not part of the API's contract).
TRENDING_LIST_HEADER = (
    "Rank",
    "Product ID",
    "Product Name",
    "Category",
    "Trend Score",
    "Scored In",
    "Status",
    "Confidence (%)",
    "Views Growth 24h (%)",
    "Views Growth 7d (%)",
    "Scored At",
    "Reason",
    "User Data",
)
VIRAL_ADS_HEADER = (
    "Rank",
    "Ad ID",
    "Platform",
    "Ad URL",
    "Advertiser",
    "Product ID",
    "Product Name",
    "Viral Score",
    "Views Gained 24h",
    "Likes",
    "Comments",
    "Shares",
    "First Seen",
    "Reason",
    "User Data",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBERS = (int, float)  # exactly: a bool or a str subclass is written as text


def neutralise(cell: str) -> str:
    """Prefixes a quote to cells a spreadsheet would run as a formula (OWASP CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The rows as CSV under ``header``. Text is neutralised (any text: a name, or a figure
    formatted as text); an int or a float is the engine's own figure, written as the number it
    is, so that a negative growth stays a number a spreadsheet sums."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell if type(cell) in _NUMBERS else neutralise(str(cell)) for cell in row])
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


def _percent(value: float | None) -> float | str:
    return "" if value is None else round(100 * value, 1)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def trending_list_csv(
    items: Sequence[TrendingItem], *, first_rank: int = 1, scored_in: str = "worldwide"
) -> str:
    """Trending products as the dashboard lists them, ranked from ``first_rank``; growth and
    confidence in percent, a figure that cannot be told empty; ``scored_in`` says whose readings
    gave the scores: "worldwide" (the stored scores) or a region's alone."""
    return to_csv(
        TRENDING_LIST_HEADER,
        (
            (
                rank,
                item.product.id,
                item.product.name,
                item.product.category or "",
                f"{item.score.score:.1f}",
                scored_in,
                item.score.status.value,
                f"{100 * item.score.assessment.confidence:.0f}",
                _percent(item.score.assessment.growth.get("24h")),
                _percent(item.score.assessment.growth.get("7d")),
                item.score.calculated_at.isoformat(),
                item.score.assessment.reason,
                _yes(item.product.added_by_user),
            )
            for rank, item in enumerate(items, start=first_rank)
        ),
    )


def viral_ads_csv(found: ScanPage, *, first_rank: int = 1) -> str:
    """The viral-ad scan's ads as the dashboard lists them, ranked from ``first_rank``, with
    each ad's latest likes, comments and shares (empty when it has no reading in the window)."""
    rows: list[Sequence[object]] = []
    for rank, viral in enumerate(found.ads, start=first_rank):
        ad = viral.ad
        counts = found.interactions.get(ad.id)
        rows.append(
            (
                rank,
                ad.id,
                ad.platform.value,
                ad.url or "",
                ad.advertiser or "",
                ad.product_id,
                viral.product_name,
                f"{viral.engagement_score:.1f}",
                viral.views_gained,
                *((counts.likes, counts.comments, counts.shares) if counts else ("", "", "")),
                viral.first_seen.isoformat(),
                viral.reason,
                _yes(ad.product_id in found.user_products),
            )
        )
    return to_csv(VIRAL_ADS_HEADER, rows)
