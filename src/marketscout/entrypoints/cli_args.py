"""Argument types shared by the ``marketscout`` commands: argparse prefixes the option's name,
so the rule alone is said ("argument --port: must be a whole number from 0 to 65535")."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``, both included."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}")
        return number

    return parse


def seconds(high: float) -> Callable[[str], float]:
    """A number of seconds from 0 to ``high``."""

    def parse(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not 0 <= number <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be a number of seconds from 0 to {high:g}")
        return number

    return parse
