"""How a number's bounds are said, the same in a query string and in a JSON body ("must be a
whole number from 1 to 100", "must be a number greater than 0 and at most 100")."""

from __future__ import annotations

_POWERS = {2**63 - 1: "2^63 - 1", 2**31 - 1: "2^31 - 1"}


def bound(value: float) -> str:
    """A bound as a reader writes it: ``100`` rather than ``100.0``, ``2^63 - 1`` rather than its
    nineteen digits."""
    if value in _POWERS:
        return _POWERS[int(value)]
    return str(int(value)) if float(value).is_integer() else str(value)


def span(
    *, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None
) -> str:
    """The bounds a value lies within, after what it must be (`` from 1 to 100``); '' for none."""
    if ge is not None:
        low = f"from {bound(ge)}"
    elif gt is not None:
        low = f"greater than {bound(gt)}"
    else:
        low = ""
    if le is not None:
        high = f"to {bound(le)}" if ge is not None else f"at most {bound(le)}"
    elif lt is not None:
        high = f"to below {bound(lt)}" if ge is not None else f"less than {bound(lt)}"
    else:
        high = ""
    if low and high:
        return f" {low} {high}" if ge is not None else f" {low} and {high}"
    if ge is not None:
        return f" of at least {bound(ge)}"
    if le is not None:
        return f" of at most {bound(le)}"
    return f" {low or high}" if low or high else ""


def items(low: int | None, high: int | None) -> str:
    """How many items a list holds, after what it must be (`` of at most 50 items``)."""
    if low and high is not None:
        return f" of {low} to {high} items"
    if high is not None:
        return f" of at most {high} items"
    return f" of at least {low} items" if low else ""
