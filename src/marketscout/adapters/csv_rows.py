"""CSV rows held to their header, said alike wherever MarketScout reads CSV (the dashboard's
upload, ``marketscout remote ingest``, CSV feeds): a row with more or fewer cells than the header
has columns is refused, never cut or padded. A header's column names are read in any case and
without the blanks around them (``AD_ID``, `` Views`` are ``ad_id``, ``views``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def column(name: str) -> str:
    """A header's column name as MarketScout reads it: in lower case, without blanks around it."""
    return name.strip().lower()


def header_problem(header: Sequence[str], read: Collection[str], said: str) -> str | None:
    """What is wrong with a header whose columns should be among ``read`` (names as
    :func:`column` makes them, ``said`` in words): the first column it names twice, in any case
    (``the header names views twice``), else the first it names that is not read, as written
    (``the header names Colour, which is not a column MarketScout reads (it reads ...)``); None
    when it is right. A column without a name (a trailing comma) is no problem: it is not read."""
    names = [column(name) for name in header]
    if twice := next((name for name in names if name and names.count(name) > 1), None):
        return f"the header names {twice} twice"
    unread = (raw.strip() for raw, name in zip(header, names, strict=True) if name and name not in read)
    if found := next(unread, None):
        return f"the header names {found}, which is not a column MarketScout reads (it reads {said})"
    return None


def misfit(cells: int, columns: int) -> str | None:
    """Why a row of ``cells`` cells does not fit a header of ``columns`` columns, as
    ``has 6 cells, the header 7 columns``; None when it fits."""
    if cells == columns:
        return None
    return f"has {_count(cells, 'cell')}, the header {_count(columns, 'column')}"


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"
