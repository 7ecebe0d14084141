"""Query and path parameters shared by the handlers, with their constraints."""

from __future__ import annotations

from typing import Annotated

from litestar.openapi.spec.enums import OpenAPIFormat
from litestar.params import PathParameter, QueryParameter

from marketscout.domain.text import ONE_LINE

MAX_ID = 2**63 - 1
# How often a repeatable query parameter may be given (``openapi.StrictQuery`` refuses more).
MAX_REPEATS = 50
# How a whole number in a path or a query is written (``openapi.StrictQuery``, ``path_ids``).
WRITTEN = "in the digits 0-9 without sign, spaces or leading zeros"

PathId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="A positive integer id")]
Skip = Annotated[int, QueryParameter(ge=0, le=2**31 - 1, description="How many items to skip")]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="How many items at most (1-100)")]
OptionalId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
NO_CONTROL = ONE_LINE.pattern  # the domain's rule for one-line text
NameQuery = Annotated[
    str | None,
    QueryParameter(max_length=200, pattern=NO_CONTROL, description="Name contains (case-insensitive)"),
]
INSTANT_RULE = "must be an RFC 3339 time with a UTC offset, e.g. 2025-07-12T00:00:00Z"
Instant = Annotated[
    str | None,
    QueryParameter(
        format=OpenAPIFormat.DATE_TIME,
        max_length=40,
        description="RFC 3339 with a UTC offset, e.g. 2025-07-12T00:00:00Z; between 1970 and 2100",
    ),
]
