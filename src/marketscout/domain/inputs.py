"""Checks of what an embedding service hands the public functions: lists that are lists, times
with a UTC offset in the span the system accepts, readings with a snapshot's fields. Each
refusal is an :class:`InvalidValue` naming the argument or field, never an error from inside."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from marketscout.domain.errors import InvalidValue
from marketscout.domain.instants import EARLIEST, LATEST, require_aware, utc_instant
from marketscout.domain.model import WHOLE_NUMBER, EngagementSnapshot, check_reading
from marketscout.domain.numeric import whole

_READING_FIELDS = "ad_id, product_id, platform, region, observed_at, views, likes, comments and shares"


def kind(value: object) -> str:
    """'an int', 'a str': what a value is, for a refusal."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def listed(field: str, given: object, what: str) -> list[Any]:
    """``given`` as a list; InvalidValue naming ``field`` when it is text, a mapping or not
    iterable (each of which was iterated wrongly or raised TypeError)."""
    if isinstance(given, list):
        return given
    if not isinstance(given, str | bytes | Mapping) and isinstance(given, Iterable):
        return list(given)
    raise InvalidValue(field, f"must be a list (or any iterable) of {what}, not {kind(given)}")


def instant(field: str, value: object) -> datetime:
    """``value`` unchanged, once known to be a datetime with a UTC offset between 1970 and 2100
    (:func:`domain.instants.utc_instant`): InvalidValue naming ``field`` otherwise."""
    # A datetime in UTC, what nearly every caller passes (the engine checks one per item it
    # scores), is seen to be one in a single look.
    if type(value) is datetime and value.tzinfo is UTC and EARLIEST <= value <= LATEST:
        return value
    require_aware(field, value)  # type: ignore[arg-type]  # what it checks
    assert isinstance(value, datetime)  # noqa: S101 - said by require_aware, told to mypy
    utc_instant(field, value)
    return value


def readings(field: str, given: object) -> list[Any]:
    """``given`` as a list of readings: :class:`EngagementSnapshot` objects (which checked
    themselves) or objects with their fields, checked as the scoring checks them
    (:func:`domain.model.check_reading`) and with a whole-number ``product_id``. A reading whose
    whole numbers are of another type (a NumPy integer) is given as the snapshot of its fields,
    in a copy of the list: the caller computes with plain ints."""
    items = listed(field, given, "readings")
    copied = False
    for index, item in enumerate(items):
        if type(item) is EngagementSnapshot:
            continue
        try:
            plain = check_reading(item)
            product_id = item.product_id
        except AttributeError as error:
            raise InvalidValue(
                field,
                f"item {index} is {kind(item)}: must be an EngagementSnapshot or have its {_READING_FIELDS}",
            ) from error
        if plain is not None or type(product_id) is not int:
            if whole(product_id) is None:
                raise InvalidValue("product_id", WHOLE_NUMBER)
            if not copied:
                items, copied = list(items), True
            items[index] = EngagementSnapshot(
                ad_id=item.ad_id,
                product_id=product_id,
                platform=item.platform,
                region=item.region,
                observed_at=item.observed_at,
                views=item.views,
                likes=item.likes,
                comments=item.comments,
                shares=item.shares,
            )
    return items
