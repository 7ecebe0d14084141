"""Views gained over a window, per ad and region: the read model the scan and heat map use.

Gained within a window ``(start, end]`` is the rise of the running maximum of the views counter
within it, as the trend engine counts growth (a counter that goes down adds nothing, and the next
rise counts only above the highest reading so far):

- ``base``, the level the window starts from: the highest reading in the look-back before the
  window (``(start - LOOKBACK, start]``); when there is none, the *first* reading inside the
  window (by time, the lower of readings that share that time; never the lowest one of the
  window, which would turn a downward correction into growth);
- ``gained = max(0, highest reading inside the window - base)``.

So a drop inside the window, a drop across its start and a drop with nothing before it all gain
nothing; only a rise above ``base`` and every earlier reading of the window counts.

Stores compute it close to the data (the SQL adapter in one aggregate query); this function is
the reference that the in-memory store uses and that the SQL adapter must agree with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marketscout.domain.errors import InvalidValue
from marketscout.domain.inputs import instant, kind, readings
from marketscout.domain.instants import require_aware
from marketscout.domain.model import AdGain, EngagementSnapshot, Platform, WindowGain
from marketscout.domain.numeric import whole

# How far before the window a reading may be to count as the level the window starts from.
LOOKBACK = timedelta(days=30)


@dataclass(slots=True)
class _Accumulator:
    product_id: int
    platform: Platform
    first_seen: datetime
    last_seen: datetime
    before: int | None = None
    inside_max: int | None = None
    first_inside: datetime | None = None  # the first reading inside the window, and its views
    first_views: int = 0


def window_gains(snapshots: Iterable[EngagementSnapshot], start: datetime, end: datetime) -> list[WindowGain]:
    """Per (ad, region) with a reading in ``(start, end]``; readings older than
    ``start - LOOKBACK`` are ignored. Refused with :class:`InvalidValue` naming it: a ``start``
    or ``end`` without a UTC offset or outside 1970-2100, a ``start`` after ``end``, and
    ``snapshots`` that are not readings (:func:`domain.inputs.readings`)."""
    instant("start", start)
    instant("end", end)
    if start > end:
        raise InvalidValue("start", "must not be after end")
    return gains_of(readings("snapshots", snapshots), start, end)


def gains_of(snapshots: Iterable[EngagementSnapshot], start: datetime, end: datetime) -> list[WindowGain]:
    """:func:`window_gains` on input already checked."""
    earliest = start - LOOKBACK
    stats: dict[tuple[int, str], _Accumulator] = {}
    for s in snapshots:
        if s.observed_at > end or s.observed_at <= earliest:
            continue
        acc = stats.get((s.ad_id, s.region))
        if acc is None:
            acc = stats[(s.ad_id, s.region)] = _Accumulator(
                s.product_id, Platform(s.platform), s.observed_at, s.observed_at
            )
        if s.observed_at <= start:
            acc.before = s.views if acc.before is None else max(acc.before, s.views)
        else:
            acc.inside_max = s.views if acc.inside_max is None else max(acc.inside_max, s.views)
            # The first reading by time; of readings that share that time, the lowest (as the
            # engine and the stores order them), whatever order they come in.
            if (
                acc.first_inside is None
                or s.observed_at < acc.first_inside
                or (s.observed_at == acc.first_inside and s.views < acc.first_views)
            ):
                acc.first_inside, acc.first_views = s.observed_at, s.views
        acc.first_seen = min(acc.first_seen, s.observed_at)
        acc.last_seen = max(acc.last_seen, s.observed_at)
    found: list[WindowGain] = []
    for (ad_id, region), acc in stats.items():
        if acc.inside_max is None:
            continue
        base = acc.before if acc.before is not None else acc.first_views
        found.append(
            WindowGain(
                ad_id=ad_id,
                product_id=acc.product_id,
                platform=acc.platform,
                region=region,
                gained=max(acc.inside_max - base, 0),
                base=base,
                first_seen=acc.first_seen,
                last_seen=acc.last_seen,
            )
        )
    found.sort(key=lambda g: (g.ad_id, g.region))
    return found


def regional_activity(gains: Iterable[WindowGain]) -> dict[str, int]:
    """Views gained in each region by every ad together: how active the region is (the heat
    map's denominator). Stores may compute it without listing the gains."""
    activity: dict[str, int] = defaultdict(int)
    for gain in gains:
        gained = gain.gained
        if type(gained) is not int:  # a whole number of another type (NumPy's), as an int
            plain = whole(gained)
            if plain is None:
                raise InvalidValue("gained", "must be a whole number")
            gained = plain
        activity[gain.region] += gained
    return dict(activity)


def ad_gains(gains: Iterable[WindowGain]) -> list[AdGain]:
    """Each ad's gains summed over its regions (what the viral-ad scan ranks), by ad id.
    Stores may compute it without listing the per-region gains. ``gains`` that are not a list
    of :class:`WindowGain` are refused with :class:`InvalidValue` naming ``gains``."""
    per_ad: dict[int, AdGain] = {}
    for index, g in enumerate(_items("gains", gains)):
        ad_id, product_id, gained, base = _check_gain(index, g)
        seen = per_ad.get(ad_id)
        if seen is None:
            per_ad[ad_id] = AdGain(
                ad_id=ad_id,
                product_id=product_id,
                platform=g.platform,
                gained=gained,
                base=base,
                first_seen=g.first_seen,
                last_seen=g.last_seen,
            )
        else:
            per_ad[ad_id] = seen._replace(
                gained=seen.gained + gained,
                base=seen.base + base,
                first_seen=min(seen.first_seen, g.first_seen),
                last_seen=max(seen.last_seen, g.last_seen),
            )
    return [per_ad[ad_id] for ad_id in sorted(per_ad)]


def _items(field: str, given: object) -> Iterator[Any]:
    if not isinstance(given, str | bytes | Mapping) and isinstance(given, Iterable):
        return iter(given)
    raise InvalidValue(field, f"must be a list (or any iterable) of WindowGain, not {kind(given)}")


def _check_gain(index: int, g: object) -> tuple[int, int, int, int]:
    """The gain's ``ad_id``, ``product_id``, ``gained`` and ``base`` as plain ints (any whole
    numbers: a NumPy integer); InvalidValue naming what an item of ``gains`` lacks to be summed
    as a WindowGain."""
    if not isinstance(g, WindowGain):
        raise InvalidValue("gains", f"item {index} is {kind(g)}: must be a WindowGain")
    ad_id, product_id, gained, base = g.ad_id, g.product_id, g.gained, g.base
    if not (type(ad_id) is int and type(product_id) is int and type(gained) is int and type(base) is int):
        plain = []
        for name in ("ad_id", "product_id", "gained", "base"):
            number = whole(getattr(g, name))
            if number is None:
                raise InvalidValue(name, f"gains item {index}: must be a whole number")
            plain.append(number)
        ad_id, product_id, gained, base = plain
    if gained < 0 or base < 0:
        raise InvalidValue("gained" if gained < 0 else "base", f"gains item {index}: must not be negative")
    for name in ("first_seen", "last_seen"):
        require_aware(name, getattr(g, name))
    return ad_id, product_id, gained, base
