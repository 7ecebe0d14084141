"""Regional heat maps: where a product draws unusual interest, not where people simply are.

As Google Trends normalises a term's searches by all searches in a region, each region's views
gained by a product are divided by the views gained in that region by every product in the
window (plus a small prior, so a region with almost no data does not swing to 100 on a handful of
views). The strongest region of each product is 100, the others are relative to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from marketscout.domain.errors import InvalidValue
from marketscout.domain.gains import gains_of, regional_activity
from marketscout.domain.inputs import instant, kind, listed, readings
from marketscout.domain.model import GLOBAL_REGION, EngagementSnapshot, WindowGain
from marketscout.domain.numeric import whole
from marketscout.domain.regions import CONTINENTS, continent_of

# The prior, as a share of the mean activity of the regions that have any.
PRIOR_SHARE = 0.05


def heat_map(
    snapshots: Iterable[EngagementSnapshot],
    product_ids: Iterable[int],
    *,
    since: datetime | None,
    until: datetime,
    level: Literal["continent", "country"] = "continent",
) -> dict[int, dict[str, float]]:
    """Relative interest per region for each product, from the raw snapshots of every product
    in ``(since, until]`` (since None: from the earliest snapshot). Refused with
    :class:`InvalidValue` naming it: an unknown ``level``; a ``since`` or ``until`` without a
    UTC offset or outside 1970-2100 (the earliest snapshot's ``observed_at`` too, when it
    stands for ``since``); a ``since`` after ``until``; ``snapshots`` that are not readings;
    ``product_ids`` that are not whole numbers."""
    if level not in ("continent", "country"):
        raise InvalidValue("level", "must be one of: continent, country")
    instant("until", until)
    if since is not None:
        instant("since", since)
        if since > until:
            raise InvalidValue("since", "must not be after until")
    ids: list[int] = []
    for product_id in listed("product_ids", product_ids, "product ids"):
        plain = whole(product_id)  # any whole number (a NumPy integer), as an int
        if plain is None:
            raise InvalidValue("product_ids", f"must be whole numbers, not {kind(product_id)}")
        ids.append(plain)
    checked = readings("snapshots", snapshots)
    if since is not None:
        start = since
    else:
        start = min((s.observed_at for s in checked), default=until)
        instant("observed_at", start)
        start = min(start, until)
    return heat_map_from_gains(gains_of(checked, start, until), ids, level=level)


def heat_map_from_gains(
    gains: Sequence[WindowGain],
    product_ids: Sequence[int],
    *,
    level: Literal["continent", "country"] = "continent",
) -> dict[int, dict[str, float]]:
    """Relative interest per region from the window's gains of every product.

    Continent maps list all six continents (0 where there is no data); country maps list the
    countries with data. A product without regional data gets all zeros (continents) or ``{}``.
    """
    return heat_map_from_activity(gains, regional_activity(gains), product_ids, level=level)


def _map_key(region: str, level: Literal["continent", "country"]) -> str | None:
    """Where a region's views count on a map of that level; None for none (GLOBAL)."""
    if region == GLOBAL_REGION:
        return None
    return region if level == "country" else continent_of(region)


def regional_views(
    gains: Iterable[WindowGain], *, level: Literal["continent", "country"] = "continent"
) -> dict[int, int]:
    """The views each product gained in the regions its map shows: what the map is built from.
    A product absent (0) has an all-zero map, whether it gained nothing or only views without a
    region (GLOBAL)."""
    views: dict[int, int] = defaultdict(int)
    for gain in gains:
        if _map_key(gain.region, level) is not None:
            views[gain.product_id] += gain.gained
    return dict(views)


def heat_map_from_activity(
    gains: Sequence[WindowGain],
    activity_by_country: Mapping[str, int],
    product_ids: Sequence[int],
    *,
    level: Literal["continent", "country"] = "continent",
) -> dict[int, dict[str, float]]:
    """The same map from the chosen products' gains alone and every region's activity
    (:func:`domain.gains.regional_activity`), as stores can give both without listing the gains
    of every ad in the market."""

    gained: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for gain in gains:
        key = _map_key(gain.region, level)
        if key is not None:
            gained[gain.product_id][key] += gain.gained
    activity: dict[str, float] = defaultdict(float)
    for region, amount in activity_by_country.items():
        key = _map_key(region, level)
        if key is not None:
            activity[key] += amount
    active = [v for v in activity.values() if v > 0]
    prior = PRIOR_SHARE * (sum(active) / len(active)) if active else 1.0
    result: dict[int, dict[str, float]] = {}
    for product_id in product_ids:
        interest = {
            region: amount / (activity[region] + prior) for region, amount in gained[product_id].items()
        }
        peak = max(interest.values(), default=0.0)
        scaled = dict.fromkeys(CONTINENTS, 0.0) if level == "continent" else {}
        for region, value in interest.items():
            scaled[region] = round(100.0 * value / peak, 1) if peak > 0 else 0.0
        if peak > 0:
            # Rounding must not take the strongest region below 100.
            strongest = max(interest, key=lambda r: (interest[r], r))
            scaled[strongest] = 100.0
        result[product_id] = dict(sorted(scaled.items()))
    return result
