"""What the operator's commands print: plain tables, columns aligned by their widest cell, and
counts with their noun."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """The rows (the first one the header) with each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def plural(count: int, word: str) -> str:
    """``1 reading``, ``1,046,685 readings``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"
