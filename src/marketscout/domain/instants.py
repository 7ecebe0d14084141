"""The span of time the system accepts. An instant outside it is an input error, not a crash:
shifting year 1 or year 9999 to UTC, or a window back from it, leaves what Python can count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketscout.domain.errors import InvalidValue

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
RANGE_RULE = "must lie between 1970-01-01T00:00:00Z and 2100-12-31T23:59:59Z"
# Clocks drift; a reading a little ahead of ours is plausible, one an hour ahead is not.
FUTURE_TOLERANCE = timedelta(minutes=5)


def require_aware(field: str, value: datetime) -> None:
    """InvalidValue naming ``field`` unless ``value`` is a datetime with a UTC offset: a naive
    one would be read as the machine's local time."""
    if not isinstance(value, datetime):
        raise InvalidValue(field, "must be a datetime with a UTC offset")
    if value.utcoffset() is None:
        raise InvalidValue(field, "must carry a UTC offset")


def utc_instant(field: str, value: datetime) -> datetime:
    """``value`` in UTC; InvalidValue naming ``field`` when it has no UTC offset or lies
    outside EARLIEST..LATEST (comparing aware times never overflows, converting them may)."""
    if value.utcoffset() is None:
        raise InvalidValue(field, "must carry a UTC offset")
    if not EARLIEST <= value <= LATEST:
        raise InvalidValue(field, RANGE_RULE)
    return value.astimezone(UTC)


def window_back(end: datetime, span: timedelta) -> datetime:
    """The start of a default window ``span`` long that ends at ``end`` (an instant in the span),
    no earlier than EARLIEST: a window echoed or queried starts at an instant every entry point
    takes, so a client may send it back (it is shorter, or empty, in 1970's first days)."""
    return max(end - span, EARLIEST)


def past_instant(field: str, value: datetime, now: datetime) -> datetime:
    """``value`` in UTC, as :func:`utc_instant`, and no later than ``now`` (with the tolerance)."""
    instant = utc_instant(field, value)
    if instant > now + FUTURE_TOLERANCE:
        raise InvalidValue(field, "must not be in the future")
    return instant
