"""Rules for text that the domain stores and later hands to other systems."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from marketscout.domain.errors import InvalidValue

# Spaces and control characters (C0, DEL and C1): never part of a URL as stored and sent
# (PostgreSQL cannot even store NUL).
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def web_url(field: str, value: str, max_length: int) -> SplitResult:
    """``value`` split, when it is an absolute http or https URL of at most ``max_length``
    characters without spaces or control characters; otherwise :class:`InvalidValue` naming
    ``field``."""
    if len(value) > max_length:
        raise InvalidValue(field, f"must be at most {max_length} characters")
    if _SPACE_OR_CONTROL.search(value):
        raise InvalidValue(field, "must not hold spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise InvalidValue(field, "must be an absolute http or https URL") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(field, "must be an absolute http or https URL")
    return parts
