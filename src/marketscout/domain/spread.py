"""Where next: how likely an item that is taking off in some regions is to reach another one.

Cross-region spread is a short-lived hazard. On YouTube's 2017-18 trending lists, of the videos
on the US list on some day that went on to reach Canada's list within 14 days (and not before),
96 % had entered the US list that very day, and 79 % the other way round; most crossed the next
day. An item crosses within a day or two of its arrival or, mostly, never; and among the new
arrivals, the ones arriving with the most reach cross most often. ``spread_score`` therefore combines two things, both measured in the source regions only:

* *reach*: ``ln(1 + views)``, the latest cumulative views summed over the item's ads there;
* *freshness*: the days since the item's first reading there; the hazard of crossing decays as
  ``exp(-age / freshness_days)``, so each such period costs one unit of log reach.

``momentum = ln(1 + views) - age_days / freshness_days`` is mapped onto 0-100 with a logistic
(a monotone map: rankings are those of the momentum). An item already seen in the target region
has reached it and scores 100; with no target, every region counts as a source. ``docs/scoring.md`` reports how well this ranks real videos (the
E2 protocol of ``spec/evaluation.md``) against the baselines, with the command that reproduces it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from marketscout.domain.errors import InvalidValue
from marketscout.domain.inputs import instant, kind, readings
from marketscout.domain.model import EngagementSnapshot
from marketscout.domain.numeric import RealNumber, finite


@dataclass(frozen=True, slots=True)
class SpreadParams:
    # One unit of log reach per half day since arrival: chosen on the 2017-18 US/CA pair
    # (docs/scoring.md shows 0.25, 0.5 and 1 day side by side).
    freshness_days: float = 0.5
    # The logistic onto 0-100: a million fresh views scores 50.
    centre: float = math.log(1_000_000)
    scale: float = 1.5

    if TYPE_CHECKING:
        # Any real number in, a float out (as ScoringParams'): see there.
        def __init__(
            self, freshness_days: RealNumber = ..., centre: RealNumber = ..., scale: RealNumber = ...
        ) -> None: ...

    def __post_init__(self) -> None:
        """Refuse, naming the field, what the score cannot run with (as :class:`ScoringParams`
        does): an embedding service hears it here, not as a division by zero in scoring."""
        # Any real number (a NumPy float), as a float.
        for name in ("freshness_days", "scale"):
            number = finite(getattr(self, name))
            if number is None or not number > 0:
                raise InvalidValue(name, "must be a number above 0")
            object.__setattr__(self, name, number)
        centre = finite(self.centre)
        if centre is None:
            raise InvalidValue("centre", "must be a finite number")
        object.__setattr__(self, "centre", centre)


DEFAULT_SPREAD_PARAMS = SpreadParams()


@dataclass(frozen=True, slots=True)
class SpreadAssessment:
    """How likely an item is to reach ``target`` next, and why."""

    target: str | None
    score: float
    reached: bool
    views: int
    age_days: float
    sources: tuple[str, ...]
    reason: str


def spread_score(
    snapshots: Iterable[EngagementSnapshot],
    target: str | None,
    as_of: datetime,
    params: SpreadParams = DEFAULT_SPREAD_PARAMS,
) -> SpreadAssessment:
    """Scores an item's chance of reaching region ``target`` (None: any region it has not reached
    yet), from its readings at or before ``as_of``. Refused with :class:`InvalidValue` naming
    it: ``snapshots`` that are not readings, a ``target`` that is neither None nor a region code
    (text, not empty), an ``as_of`` without a UTC offset or outside 1970-2100, ``params`` that
    are not :class:`SpreadParams`."""
    instant("as_of", as_of)
    if target is not None and (not isinstance(target, str) or not target):
        raise InvalidValue("target", "must be a region code (not empty) or None")
    if not isinstance(params, SpreadParams):
        raise InvalidValue("params", f"must be a SpreadParams, not {kind(params)}")
    snapshots = readings("snapshots", snapshots)
    # Per ad and region, the highest views; and the first reading: elsewhere, and in the target.
    latest: dict[tuple[int, str], int] = {}
    there: dict[int, int] = {}
    first_seen: datetime | None = None
    first_there: datetime | None = None
    for snap in snapshots:
        if snap.observed_at > as_of:
            continue
        if snap.region == target:
            there[snap.ad_id] = max(there.get(snap.ad_id, 0), snap.views)
            if first_there is None or snap.observed_at < first_there:
                first_there = snap.observed_at
            continue
        key = (snap.ad_id, snap.region)
        latest[key] = max(latest.get(key, 0), snap.views)
        if first_seen is None or snap.observed_at < first_seen:
            first_seen = snap.observed_at
    sources = tuple(sorted({region for _, region in latest}))
    if first_there is not None:
        # Reached: what the item has there, and since when.
        views_there = sum(there.values())
        age_there = max((as_of - first_there).total_seconds(), 0.0) / 86_400
        return SpreadAssessment(
            target,
            100.0,
            True,
            views_there,
            age_there,
            sources,
            f"already seen in {target}: {views_there:,} views, first seen there {age_there:.1f} days ago",
        )
    views = sum(latest.values())
    if first_seen is None:
        return SpreadAssessment(target, 0.0, False, 0, 0.0, (), "no readings in any other region yet")
    age_days = max((as_of - first_seen).total_seconds(), 0.0) / 86_400
    momentum = math.log1p(views) - age_days / params.freshness_days
    try:
        score = 100.0 / (1.0 + math.exp(-(momentum - params.centre) / params.scale))
    except OverflowError:  # beyond what a float counts (first seen years ago): nothing left
        score = 0.0
    where = ", ".join(sources)
    reason = f"{views:,} views in {where}, first seen {age_days:.1f} days ago"
    if age_days <= 2 * params.freshness_days:
        reason += ": still fresh, the window in which items usually cross"
    else:
        reason += ": past the window in which most items cross"
    return SpreadAssessment(target, score, False, views, age_days, sources, reason)
