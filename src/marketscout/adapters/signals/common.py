"""What the platform adapters share: reading JSON answers and turning API errors into
``SourceUnavailable`` with the platform's own reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from marketscout.domain.signals import CollectedItem, FetchResult, SourceUnavailable

logger = logging.getLogger("marketscout.collect")


def json_body(source: str, response: httpx.Response, error_reason: Callable[[Any], str | None]) -> Any:
    """The decoded body of a 2xx answer. Otherwise (or when the body is not JSON) raises
    SourceUnavailable with what the API said, never the request URL (it may hold a token)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and body is not None:
        return body
    reason = error_reason(body) if body is not None else None
    detail = reason or ("an answer that is not JSON" if body is None else "no reason given")
    logger.warning("source %s: HTTP %d: %s", source, response.status_code, detail)
    raise SourceUnavailable(f"{source}: HTTP {response.status_code}: {detail}")


def add_item(result: FetchResult, source: str, what: str, build: Callable[[], CollectedItem]) -> None:
    """Adds one mapped record, or a skip line naming the source and the record when it does
    not map (a partial payload is skipped, never stored half)."""
    try:
        result.items.append(build())
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        reason = f"{source} {what}: {type(error).__name__} {error}"[:300]
        result.skipped.append(reason)
        logger.warning("skipped %s", reason)


def count(value: Any) -> int:
    """A non-negative counter from a number or a numeric string (YouTube sends strings)."""
    number = int(value)
    if number < 0:
        raise ValueError("a counter is negative")
    return number
