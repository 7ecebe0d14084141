"""Whole and real numbers as an embedding service hands them: an int or a float, or any other
:class:`numbers.Integral` or :class:`numbers.Real` (a NumPy or pandas scalar, a Fraction), read
once at the edge as the plain int or float the domain computes with and the stores keep. A bool
is a truth, not a number: refused wherever a number belongs.

Hot loops test ``type(x) is int`` (or ``float``) first and call these only when that fails."""

from __future__ import annotations

import math
import numbers
import operator
from typing import TypeAlias

#: What a real number may be given as, for the type checker: an int or a float, or any
#: :class:`numbers.Real` (a Fraction; NumPy's floats are floats). Read with :func:`real`.
RealNumber: TypeAlias = float | numbers.Real


def whole(value: object) -> int | None:
    """``value`` as a plain int when it is a whole number that is not a bool (an int, an int
    subclass, a NumPy integer: any :class:`numbers.Integral`); None for anything else (a float,
    a Fraction, text, a bool)."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    try:
        return operator.index(value)
    except TypeError:  # registered as Integral without saying which int it is
        return None


def real(value: object) -> float | None:
    """``value`` as a float when it is a real number that is not a bool (an int, a float, a
    Fraction, a NumPy scalar: any :class:`numbers.Real`); None for anything else. NaN and the
    infinities pass (a caller that refuses them checks :func:`finite`); a number beyond any
    float, a huge int or Fraction, is read as the infinity of its sign."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]  # Real declares no order
    except (TypeError, ValueError):  # registered as Real without a float of its own
        return None


def finite(value: object) -> float | None:
    """:func:`real`, and None for NaN or an infinity too."""
    number = real(value)
    return number if number is not None and math.isfinite(number) else None
