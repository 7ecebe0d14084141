"""How the domain says a rise in the reasons it gives: as people read one, not as a float."""

from __future__ import annotations

#: How a reason says that the 3 days before the last 3 gained nothing (no ratio to give).
NONE_BEFORE = "none in the 3 before"

#: Beyond this a multiple is said as 'over 1,000,000x': a float's last digits mean nothing.
HUGE = 1_000_000.0


def times(ratio: float) -> str:
    """``ratio`` as a multiple: '3.7x' under ten, '12x' and '3,667x' from there, 'over
    1,000,000x' beyond a million."""
    if ratio > HUGE:
        return f"over {HUGE:,.0f}x"
    if ratio >= 9.95:
        return f"{ratio:,.0f}x"
    return f"{ratio:.1f}x"


def rise(fraction: float, digits: int = 1) -> str:
    """A rise by ``fraction`` (0.35 for 35 %): '+35.0%' under tenfold, a multiple of what was
    there from tenfold up ('12x', see :func:`times`)."""
    if fraction < 9.0:
        return f"+{fraction:.{digits}%}"
    return times(fraction + 1.0)
