"""Ids in the path are written one way: the digits 0-9, no sign, spaces or leading zeros.

Litestar parses a ``{name:int}`` path segment with ``int()``, which also takes ``" 1"``,
``"1\\n"``, ``"+1"``, ``"01"``, ``"1_0"`` (ten) and digits of other scripts, so
``DELETE /alert-rules/1%0A`` deleted rule 1. Every such segment is held here to the same rule as
the query strings: anything else is a 422 naming the parameter, before the handler runs; a segment
``int()`` cannot read at all (``abc``) fails Litestar's routing, and the error handler names it
the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from litestar.exceptions import ValidationException

from marketscout.entrypoints.api.params import MAX_ID, WRITTEN
from marketscout.entrypoints.api.rules import span

_INT_SLOT = re.compile(r"^\{(?P<name>\w+):int\}$")
_PLAIN = re.compile(r"[1-9][0-9]{0,18}")
# Word for word what a query's id is told (``openapi.StrictQuery``): one id, one rule.
RULE = f"must be a whole number{span(ge=1, le=MAX_ID)}, {WRITTEN}"


def plain_id(written: str) -> int | None:
    """``written`` as an id when it is written by this rule (digits 0-9, no sign, spaces or
    leading zeros, 1 to 2^63 - 1), else None: written otherwise, it names nothing."""
    if not _PLAIN.fullmatch(written) or (number := int(written)) > MAX_ID:
        return None
    return number


def badly_written_id(template: str, path: str) -> str | None:
    """The name of the first ``{name:int}`` segment of ``template`` that ``path`` does not fill
    with a plain id; ``None`` when every one is plain, or when ``path`` is not of ``template``'s
    shape (another route's)."""
    slots, segments = template.strip("/").split("/"), path.strip("/").split("/")
    if len(slots) != len(segments):
        return None
    for slot, segment in zip(slots, segments, strict=True):
        if named := _INT_SLOT.match(slot):
            if plain_id(segment) is None:
                return named.group("name")
        elif not slot.startswith("{") and slot != segment:
            return None
    return None


def first_badly_written_id(templates: Iterable[str], path: str) -> str | None:
    """:func:`badly_written_id` over every route: the route ``path`` was meant for failed to parse."""
    return next((name for t in templates if ":int}" in t and (name := badly_written_id(t, path))), None)


def refused(name: str) -> ValidationException:
    return ValidationException(extra=[{"key": name, "message": RULE}])
