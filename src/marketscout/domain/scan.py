"""The viral-ad scan: ads whose engagement grows unusually fast for their platform and age.

Each ad's growth over the window is measured as relative growth per day,
``ln(1 + views gained per day / (views at the window start + 1))``, so a big old ad does not
win by size. It is compared with its peers (same platform and age bucket; the platform, then
everything, when the bucket is too small) by a robust z-score (median and MAD). An ad
qualifies when it stands clearly above its peers, or, where peers are too few to judge, when
it more than doubles-every-few-days on its own. ``engagement_score`` is its percentile among
the compared ads, lifted by how far above the median it stands.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from marketscout.domain.gains import window_gains
from marketscout.domain.model import Ad, EngagementSnapshot, Platform, ViralAd, WindowGain

AGE_BUCKETS_DAYS: tuple[float, ...] = (3, 14, 60)
MIN_PEERS = 5
Z_THRESHOLD = 2.5
# Without enough peers: at least 20 % relative growth a day and 100 views a day.
SOLO_RELATIVE_GROWTH = math.log1p(0.2)
MIN_VIEWS_PER_DAY = 100.0


@dataclass(frozen=True, slots=True)
class _AdGrowth:
    ad: Ad
    rate: float
    gained: float
    per_day: float
    age_bucket: int
    detected_at: datetime


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _age_bucket(age_days: float) -> int:
    return sum(age_days >= edge for edge in AGE_BUCKETS_DAYS)


def _growths(
    ads: Mapping[int, Ad], gains: Sequence[WindowGain], as_of: datetime, window: timedelta
) -> list[_AdGrowth]:
    per_ad: dict[int, list[WindowGain]] = defaultdict(list)
    for gain in gains:
        if gain.ad_id in ads:
            per_ad[gain.ad_id].append(gain)
    start = as_of - window
    days = window / timedelta(days=1)
    found: list[_AdGrowth] = []
    for ad_id, parts in per_ad.items():
        gained = float(sum(g.gained for g in parts))
        base = float(sum(g.base for g in parts))
        first_seen = min(g.first_seen for g in parts)
        observed_days = max(min(days, (as_of - max(first_seen, start)) / timedelta(days=1)), 0.25)
        per_day = gained / observed_days
        ad = ads[ad_id]
        born = ad.first_seen_at if ad.first_seen_at is not None else first_seen
        found.append(
            _AdGrowth(
                ad=ad,
                rate=math.log1p(per_day / (base + 1.0)),
                gained=gained,
                per_day=per_day,
                age_bucket=_age_bucket((as_of - born) / timedelta(days=1)),
                detected_at=max(g.last_seen for g in parts),
            )
        )
    return found


def scan_viral_ads(
    ads: Mapping[int, Ad],
    snapshots: Sequence[EngagementSnapshot],
    product_names: Mapping[int, str],
    as_of: datetime,
    *,
    window: timedelta = timedelta(days=7),
    limit: int = 20,
) -> list[ViralAd]:
    """The ads growing unusually fast, strongest first (at most ``limit``), from raw snapshots."""
    gains = window_gains([s for s in snapshots if s.observed_at <= as_of], as_of - window, as_of)
    return scan_gains(ads, gains, product_names, as_of, window=window, limit=limit)


def scan_gains(
    ads: Mapping[int, Ad],
    gains: Sequence[WindowGain],
    product_names: Mapping[int, str],
    as_of: datetime,
    *,
    window: timedelta = timedelta(days=7),
    limit: int = 20,
) -> list[ViralAd]:
    """The scan on the window's gains per ad and region, as stores provide them."""
    growths = _growths(ads, gains, as_of, window)
    by_bucket: dict[tuple[Platform, int], list[float]] = defaultdict(list)
    by_platform: dict[Platform, list[float]] = defaultdict(list)
    for g in growths:
        by_bucket[(g.ad.platform, g.age_bucket)].append(g.rate)
        by_platform[g.ad.platform].append(g.rate)
    everything = [g.rate for g in growths]
    # Each peer group's statistics once (sorted rates, median, MAD): O(n log n) for the scan.
    summaries: dict[tuple[str, object], tuple[list[float], float, float]] = {}

    def summary(scope_key: tuple[str, object], rates: list[float]) -> tuple[list[float], float, float]:
        if scope_key not in summaries:
            ordered = sorted(rates)
            median = _median(ordered)
            summaries[scope_key] = (ordered, median, _median([abs(r - median) for r in ordered]))
        return summaries[scope_key]

    ranked: list[tuple[float, ViralAd]] = []
    for g in growths:
        peers = by_bucket[(g.ad.platform, g.age_bucket)]
        scope = "of its age"
        scope_key: tuple[str, object] = ("bucket", (g.ad.platform, g.age_bucket))
        if len(peers) < MIN_PEERS:
            peers, scope, scope_key = (
                by_platform[g.ad.platform],
                "on the platform",
                ("platform", g.ad.platform),
            )
        if len(peers) < MIN_PEERS:
            peers, scope, scope_key = everything, "across platforms", ("all", None)
        ordered, median, mad = summary(scope_key, peers)
        z = (g.rate - median) / (1.4826 * mad + 0.02)
        enough_peers = len(peers) >= MIN_PEERS
        qualifies = g.per_day >= MIN_VIEWS_PER_DAY and (
            z >= Z_THRESHOLD if enough_peers else g.rate >= SOLO_RELATIVE_GROWTH and g.rate >= median
        )
        if not qualifies:
            continue
        percentile = bisect.bisect_right(ordered, g.rate) / len(ordered)
        lift = 1.0 - math.exp(-max(z, 0.0) / 4.0)
        score = round(100.0 * (0.5 * percentile + 0.5 * lift), 1)
        ratio = math.expm1(g.rate) / max(math.expm1(median), 1e-6)
        reason = f"+{g.per_day:,.0f} views/day, {math.expm1(g.rate):.0%} a day; " + (
            f"{ratio:.1f}x the median {g.ad.platform} ad {scope}"
            if median > 0
            else f"while the median {g.ad.platform} ad {scope} is flat"
        )
        ranked.append(
            (
                z if enough_peers else g.rate * 10,
                ViralAd(
                    ad=g.ad,
                    product_name=product_names.get(g.ad.product_id, ""),
                    engagement_score=min(score, 100.0),
                    growth_rate=g.rate,
                    views_gained=round(g.gained),
                    detected_at=g.detected_at,
                    reason=reason,
                ),
            )
        )
    ranked.sort(key=lambda item: (-item[1].engagement_score, -item[0], item[1].ad.id))
    return [viral for _, viral in ranked[:limit]]
