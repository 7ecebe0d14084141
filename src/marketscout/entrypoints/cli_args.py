"""Argument types shared by the ``marketscout`` commands: argparse prefixes the option's name,
so the rule alone is said ("argument --port: must be a whole number from 0 to 65535")."""

from __future__ import annotations

import argparse
import math
import socket
import urllib.parse
from collections.abc import Callable

from marketscout.entrypoints.settings import database_url_problem


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


def http_url(example: str) -> Callable[[str], str]:
    """An http:// or https:// URL with a host (``example`` shows one), as written: anything
    else would only fail later, as a connection error after retries."""

    def parse(text: str) -> str:
        try:
            parts = urllib.parse.urlsplit(text)
            usable = parts.scheme in {"http", "https"} and bool(parts.hostname)
            _ = parts.port  # a port that is not a number, or out of range, raises
        except ValueError:
            usable = False
        if not usable:
            raise argparse.ArgumentTypeError(
                f"must be an http:// or https:// URL with a host, such as {example}"
            )
        return text

    return parse


LISTEN_ADDRESS_RULE = "must be an address of this machine, such as 127.0.0.1 or 0.0.0.0"


def listen_address(text: str) -> str:
    """An address the server can listen on: an IP address of this machine (or 0.0.0.0, ::), or
    a name that resolves to one. Tried as uvicorn binds it (IPv6 when it holds a colon), on a
    port the system picks and let go at once; otherwise the server would start and then fail,
    in uvicorn's words and with its own exit code."""
    if not text.strip():
        raise argparse.ArgumentTypeError(LISTEN_ADDRESS_RULE)
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((text, 0))
    except (OSError, UnicodeError) as error:  # gaierror too; a name IDNA cannot encode
        reason = getattr(error, "strerror", None) or str(error)
        raise argparse.ArgumentTypeError(f"{LISTEN_ADDRESS_RULE} ({text}: {reason})") from None
    return text


def database_url(text: str) -> str:
    """A database URL of a scheme a store is made from (settings.DATABASE_URL_RULE)."""
    if problem := database_url_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text
