"""CSV rows held to their header, said alike wherever MarketScout reads CSV (the dashboard's
upload, ``marketscout remote ingest``, CSV feeds): a row with more or fewer cells than the header
has columns is refused, never cut or padded."""

from __future__ import annotations


def misfit(cells: int, columns: int) -> str | None:
    """Why a row of ``cells`` cells does not fit a header of ``columns`` columns, as
    ``has 6 cells, the header 7 columns``; None when it fits."""
    if cells == columns:
        return None
    return f"has {_count(cells, 'cell')}, the header {_count(columns, 'column')}"


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"
