"""The viral-ad scan: ads whose engagement grows unusually fast for their platform and age.

Each ad's growth over the window (the last day, :data:`SCAN_WINDOW`) is measured as relative
growth per day,
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

from marketscout.domain.figures import rise, times
from marketscout.domain.gains import ad_gains, window_gains
from marketscout.domain.instants import require_aware
from marketscout.domain.model import Ad, AdGain, EngagementSnapshot, Platform, ViralAd, WindowGain

# The growth the scan judges: over the last day. Measured on real data (docs/scoring.md, the
# viral-ad scan): a day's growth picks the ads that keep growing far more often than a week's
# average, which keeps an ad that burst days ago and has been flat since.
SCAN_WINDOW = timedelta(days=1)
AGE_BUCKETS_DAYS: tuple[float, ...] = (3, 14, 60)
MIN_PEERS = 5
Z_THRESHOLD = 2.5
# Without enough peers: at least 20 % relative growth a day and 100 views a day.
SOLO_RELATIVE_GROWTH = math.log1p(0.2)
MIN_VIEWS_PER_DAY = 100.0


@dataclass(frozen=True, slots=True)
class ScanHit:
    """One ad the scan found, before the ad itself is looked up (see :func:`rank_gains`)."""

    ad_id: int
    product_id: int
    platform: Platform
    engagement_score: float
    growth_rate: float
    views_gained: int
    detected_at: datetime
    reason: str

    def viral(self, ad: Ad, product_name: str) -> ViralAd:
        """The hit as the scan shows it, once its ad is looked up."""
        return ViralAd(
            ad=ad,
            product_name=product_name,
            engagement_score=self.engagement_score,
            growth_rate=self.growth_rate,
            views_gained=self.views_gained,
            detected_at=self.detected_at,
            reason=self.reason,
        )


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def scan_viral_ads(
    ads: Mapping[int, Ad],
    snapshots: Sequence[EngagementSnapshot],
    product_names: Mapping[int, str],
    as_of: datetime,
    *,
    window: timedelta = SCAN_WINDOW,
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
    window: timedelta = SCAN_WINDOW,
    limit: int = 20,
) -> list[ViralAd]:
    """The scan on the window's gains per ad and region, for the ads given (others are left out)."""
    known = ad_gains(g for g in gains if g.ad_id in ads)
    born = {a.id: a.first_seen_at for a in ads.values() if a.first_seen_at is not None}
    hits = rank_gains(known, as_of, window=window, born=born)[:limit]
    return [hit.viral(ads[hit.ad_id], product_names.get(hit.product_id, "")) for hit in hits]


def rank_gains(
    gains: Sequence[AdGain],
    as_of: datetime,
    *,
    window: timedelta = SCAN_WINDOW,
    born: Mapping[int, datetime] | None = None,
) -> list[ScanHit]:
    """Every ad that qualifies, strongest first, judged against all the ads in ``gains`` (one
    per ad: :func:`domain.gains.ad_gains`).

    ``born`` gives an ad's first appearance where the platform told it (``Ad.first_seen_at``);
    otherwise its age counts from its first reading in the window. Only the hits' ads need
    looking up afterwards, which keeps the scan cheap on a large market.
    """
    require_aware("as_of", as_of)
    born = born or {}
    # Seconds since the epoch: the scan runs over every ad of the market, so no timedelta
    # arithmetic per ad; and each ad's figures go into parallel lists (no object per ad): only
    # the ads that qualify become hits.
    end = as_of.timestamp()
    start = end - window.total_seconds()
    window_days = window / timedelta(days=1)
    rates: list[float] = []
    per_days: list[float] = []
    groups: list[tuple[Platform, int]] = []
    log1p, edges, bucket_of = math.log1p, AGE_BUCKETS_DAYS, bisect.bisect_right
    for g in gains:
        first_seen = g.first_seen.timestamp()
        observed_days = (end - (first_seen if first_seen > start else start)) / 86400.0
        # Within [0.25 day, the window] (comparisons, not min and max: a call each per ad).
        if not observed_days < window_days:
            observed_days = window_days
        if observed_days < 0.25:
            observed_days = 0.25
        per_day = g.gained / observed_days
        birth = born.get(g.ad_id)
        age_days = (end - (first_seen if birth is None else birth.timestamp())) / 86400.0
        rates.append(log1p(per_day / (g.base + 1.0)))
        per_days.append(per_day)
        # The age bucket: how many of the edges the age has reached (0 = younger than 3 days).
        groups.append((g.platform, bucket_of(edges, age_days)))
    by_bucket: dict[tuple[Platform, int], list[float]] = defaultdict(list)
    by_platform: dict[Platform, list[float]] = defaultdict(list)
    for rate, group in zip(rates, groups, strict=True):
        by_bucket[group].append(rate)
        by_platform[group[0]].append(rate)
    # Each group's peers, once: the ads of its platform and age bucket, else of its platform,
    # else all, whichever first has MIN_PEERS; and their statistics (sorted rates, median, MAD):
    # O(n log n) for the scan.
    summaries: dict[int, tuple[list[float], float, float]] = {}

    def summary(rates: list[float]) -> tuple[list[float], float, float]:
        known = summaries.get(id(rates))
        if known is None:
            ordered = sorted(rates)
            median = _median(ordered)
            known = summaries[id(rates)] = (ordered, median, _median([abs(r - median) for r in ordered]))
        return known

    peers_of: dict[tuple[Platform, int], tuple[list[float], float, float, str, bool]] = {}
    for group, peers in by_bucket.items():
        scope = "of its age"
        if len(peers) < MIN_PEERS:
            peers, scope = by_platform[group[0]], "on the platform"
        if len(peers) < MIN_PEERS:
            peers, scope = rates, "across platforms"
        peers_of[group] = (*summary(peers), scope, len(peers) >= MIN_PEERS)

    ranked: list[tuple[float, ScanHit]] = []
    for g, rate, per_day, group in zip(gains, rates, per_days, groups, strict=True):
        if per_day < MIN_VIEWS_PER_DAY:
            continue  # too small to matter, whatever its peers do
        ordered, median, mad, scope, enough_peers = peers_of[group]
        if rate < median:
            continue  # below its peers' median: it qualifies neither way
        z = (rate - median) / (1.4826 * mad + 0.02)
        qualifies = z >= Z_THRESHOLD if enough_peers else rate >= SOLO_RELATIVE_GROWTH
        if not qualifies:
            continue
        percentile = bisect.bisect_right(ordered, rate) / len(ordered)
        lift = 1.0 - math.exp(-max(z, 0.0) / 4.0)
        score = round(100.0 * (0.5 * percentile + 0.5 * lift), 1)
        ratio = math.expm1(rate) / max(math.expm1(median), 1e-6)
        pace = " from none before" if g.base < 0.5 else f", {rise(math.expm1(rate), 0)} a day"
        reason = f"+{per_day:,.0f} views/day{pace}; " + (
            f"{times(ratio)} the median {g.platform} ad {scope}"
            if median > 0
            else f"while the median {g.platform} ad {scope} is flat"
        )
        hit = ScanHit(
            ad_id=g.ad_id,
            product_id=g.product_id,
            platform=g.platform,
            engagement_score=min(score, 100.0),
            growth_rate=rate,
            views_gained=round(float(g.gained)),
            detected_at=g.last_seen,
            reason=reason,
        )
        ranked.append((z if enough_peers else rate * 10, hit))
    ranked.sort(key=lambda item: (-item[1].engagement_score, -item[0], item[1].ad_id))
    return [hit for _, hit in ranked]
