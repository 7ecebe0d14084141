"""The viral-ad scan: ads whose engagement grows unusually fast for their platform and age.

Each ad's growth over the window (the last day, :data:`SCAN_WINDOW`) is measured as relative
growth per day,
``ln(1 + views gained per day / (views at the window start + 1))``, so a big old ad does not
win by size. It is compared with its peers (same platform and age bucket; the platform, then
everything, when the bucket is too small) by a robust z-score (median and MAD). An ad
qualifies when it stands clearly above its peers, or, when the whole scan has too few ads to
judge by (fewer than :data:`MIN_PEERS`), when it grows at least 20 % a day on its own, whatever
the few others do. ``engagement_score`` is its percentile among the compared ads, lifted by how
far above the median it stands; the reason names the ads it was compared with.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from marketscout.domain.errors import InvalidValue
from marketscout.domain.figures import rise, times
from marketscout.domain.gains import ad_gains, window_gains
from marketscout.domain.inputs import kind as _kind
from marketscout.domain.instants import require_aware, utc_instant
from marketscout.domain.model import MAX_COUNT, Ad, AdGain, EngagementSnapshot, Platform, ViralAd, WindowGain
from marketscout.domain.numeric import whole

# The growth the scan judges: over the last day. Measured on real data (docs/scoring.md, the
# viral-ad scan): a day's growth picks the ads that keep growing far more often than a week's
# average, which keeps an ad that burst days ago and has been flat since.
SCAN_WINDOW = timedelta(days=1)
AGE_BUCKETS_DAYS: tuple[float, ...] = (3, 14, 60)
MIN_PEERS = 5
Z_THRESHOLD = 2.5
# A group of fewer than MIN_PEERS ads (the ad itself counted) is too small to judge by. With
# fewer than that in the whole scan, an ad qualifies on its own: at least 20 % relative growth
# a day. Whatever the peers, an ad must gain at least 100 views a day.
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
    first_seen: datetime  # what its age counts from (see :func:`rank_gains`)

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
            first_seen=self.first_seen,
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
    require_aware("as_of", as_of)
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
    gains: Iterable[AdGain],
    as_of: datetime,
    *,
    window: timedelta = SCAN_WINDOW,
    born: Mapping[int, datetime] | None = None,
) -> list[ScanHit]:
    """Every ad that qualifies, strongest first, judged against all the ads in ``gains`` (one
    per ad: :func:`domain.gains.ad_gains`).

    ``born`` gives an ad's first appearance where the platform told it (``Ad.first_seen_at``);
    otherwise its age counts from its first reading in ``gains`` (``AdGain.first_seen``: the
    window and the ``LOOKBACK`` before it). Each hit carries that date as ``first_seen``. Only the hits' ads need
    looking up afterwards, which keeps the scan cheap on a large market. Input it cannot rank
    (an ad twice, a count that is not a whole number from 0 to ``MAX_AD_TOTAL``, the bound of a
    sum of regions' counts, a time without a UTC offset, a window not longer than 0) is refused
    with :class:`InvalidValue` naming it.
    """
    require_aware("as_of", as_of)
    utc_instant("as_of", as_of)  # in the span every entry point takes: 1970 to 2100
    if not isinstance(window, timedelta) or window <= _NO_TIME:
        raise InvalidValue("window", f"must be a timedelta longer than 0, not {_said(window)}")
    if born is None:
        born = {}
    elif not isinstance(born, Mapping):
        raise InvalidValue("born", f"must be a mapping of ad ids to datetimes, not {_kind(born)}")
    if isinstance(gains, str | bytes | Mapping) or not isinstance(gains, Iterable):
        raise InvalidValue("gains", f"must be a list (or any iterable) of AdGain, not {_kind(gains)}")
    # Seconds since the epoch: the scan runs over every ad of the market, so no timedelta
    # arithmetic per ad; and each ad's figures go into parallel lists (no object per ad): only
    # the ads that qualify become hits.
    end = as_of.timestamp()
    start = end - window.total_seconds()
    window_days = window / timedelta(days=1)
    listed: list[AdGain] = gains if isinstance(gains, list) else list(gains)
    seen: set[int] = set()
    note_seen = seen.add
    rates: list[float] = []
    per_days: list[float] = []
    groups: list[tuple[Platform, int]] = []
    log1p, edges, bucket_of = math.log1p, AGE_BUCKETS_DAYS, bisect.bisect_right
    given = listed
    for index, g in enumerate(given):
        try:
            ad_id, platform, gained, base, first_seen = g.ad_id, g.platform, g.gained, g.base, g.first_seen
            product_id, last_seen = g.product_id, g.last_seen
        except AttributeError as error:
            raise InvalidValue(
                "gains", f"item {index} is {_kind(g)}: must be an AdGain or have its {_GAIN_FIELDS}"
            ) from error
        # The common case spelled out (a few comparisons per ad of the market: times in UTC, as
        # the stores give them); anything else is looked at field by field, to name what is wrong.
        if not (
            type(gained) is int
            and type(base) is int
            and 0 <= gained <= MAX_AD_TOTAL
            and 0 <= base <= MAX_AD_TOTAL
            and type(ad_id) is int
            and type(product_id) is int
            and type(platform) is Platform
            and ((type(first_seen) is datetime and first_seen.tzinfo is UTC) or _aware(first_seen))
            and ((type(last_seen) is datetime and last_seen.tzinfo is UTC) or _aware(last_seen))
        ):
            # Whole numbers of another type (NumPy's) as plain ints, in a copy of the list;
            # anything else refused by name.
            g = _plain(g)
            ad_id, product_id, gained, base = g.ad_id, g.product_id, g.gained, g.base
            if listed is given:
                listed = list(given)
            listed[index] = g
        note_seen(ad_id)
        first = first_seen.timestamp()
        observed_days = (end - (first if first > start else start)) / 86400.0
        # Within [0.25 day, the window] (comparisons, not min and max: a call each per ad).
        if not observed_days < window_days:
            observed_days = window_days
        if observed_days < 0.25:
            observed_days = 0.25
        per_day = gained / observed_days
        birth = born.get(ad_id)
        if birth is not None and not ((type(birth) is datetime and birth.tzinfo is UTC) or _aware(birth)):
            raise InvalidValue("born", f"ad {ad_id}: must be a datetime with a UTC offset")
        age_days = (end - (first if birth is None else birth.timestamp())) / 86400.0
        rates.append(log1p(per_day / (base + 1.0)))
        per_days.append(per_day)
        # The age bucket: how many of the edges the age has reached (0 = younger than 3 days).
        groups.append((platform, bucket_of(edges, age_days)))
    if len(seen) < len(listed):
        twice = next(ad_id for ad_id, count in Counter(g.ad_id for g in listed).items() if count > 1)
        raise InvalidValue(
            "gains", f"ad {twice} appears twice: one AdGain per ad (ad_gains sums its regions)"
        )
    by_bucket: dict[tuple[Platform, int], list[float]] = defaultdict(list)
    by_platform: dict[Platform, list[float]] = defaultdict(list)
    for rate, group in zip(rates, groups, strict=True):
        by_bucket[group].append(rate)
        by_platform[group[0]].append(rate)
    # Each group's peers, once: the ads of its platform and age bucket, else of its platform,
    # else all, whichever first has MIN_PEERS (the ad itself counted); and their statistics
    # (sorted rates, median, MAD): O(n log n) for the scan. With fewer than MIN_PEERS ads in all
    # there are no peers (``None``): the absolute rule decides alone.
    summaries: dict[int, tuple[list[float], float, float]] = {}

    def summary(rates: list[float]) -> tuple[list[float], float, float]:
        known = summaries.get(id(rates))
        if known is None:
            ordered = sorted(rates)
            median = _median(ordered)
            known = summaries[id(rates)] = (ordered, median, _median([abs(r - median) for r in ordered]))
        return known

    peers_of: dict[tuple[Platform, int], tuple[list[float], float, float, str | None]] = {}
    for group, peers in by_bucket.items():
        # What the reason calls the median ad of the peers: exactly the ads it was judged against.
        named: str | None = f"the median {group[0]} ad of its age"
        if len(peers) < MIN_PEERS:
            peers, named = by_platform[group[0]], f"the median {group[0]} ad on the platform"
        if len(peers) < MIN_PEERS:
            peers, named = rates, "the median ad across platforms"
        if len(peers) < MIN_PEERS:
            named = None
        peers_of[group] = (*summary(peers), named)

    ranked: list[tuple[float, ScanHit]] = []
    for g, rate, per_day, group in zip(listed, rates, per_days, groups, strict=True):
        if per_day < MIN_VIEWS_PER_DAY:
            continue  # too small to matter, whatever its peers do
        ordered, median, mad, named = peers_of[group]
        z = (rate - median) / (1.4826 * mad + 0.02)
        if named is None:
            # Too few ads to judge by: its own growth alone decides, not where it stands
            # among the few others (an ad at 50 % a day among faster ones qualifies).
            if rate < SOLO_RELATIVE_GROWTH:
                continue
            compared = f"too few ads to compare with ({len(ordered)} in all); {_ON_ITS_OWN}"
        else:
            if z < Z_THRESHOLD:
                continue
            compared = (
                f"{times(math.expm1(rate) / max(math.expm1(median), 1e-6))} {named}"
                if median > 0
                else f"while {named} is flat"
            )
        percentile = bisect.bisect_right(ordered, rate) / len(ordered)
        lift = 1.0 - math.exp(-max(z, 0.0) / 4.0)
        score = round(100.0 * (0.5 * percentile + 0.5 * lift), 1)
        pace = " from none before" if g.base < 0.5 else f", {rise(math.expm1(rate), 0)} a day"
        hit = ScanHit(
            ad_id=g.ad_id,
            product_id=g.product_id,
            platform=g.platform,
            engagement_score=min(score, 100.0),
            growth_rate=rate,
            views_gained=g.gained,
            detected_at=g.last_seen,
            reason=f"+{per_day:,.0f} views/day{pace}; {compared}",
            first_seen=born.get(g.ad_id) or g.first_seen,
        )
        ranked.append((rate if named is None else z, hit))
    ranked.sort(key=lambda item: (-item[1].engagement_score, -item[0], item[1].ad_id))
    return [hit for _, hit in ranked]


_NO_TIME = timedelta(0)
_ON_ITS_OWN = f"judged on its own growth: at least {rise(math.expm1(SOLO_RELATIVE_GROWTH), 0)} a day"
_GAIN_FIELDS = "ad_id, product_id, platform, gained, base, first_seen and last_seen"
# An AdGain's counts are sums of an ad's regions' 64-bit counters, so they may pass 2^63 - 1;
# 2^127 - 1 leaves room for 2^64 regions at the maximum and stays far inside a float's range.
MAX_AD_TOTAL = 2**127 - 1
_WHOLE_RULE = (
    "must be a whole number from 0 to 2^127 - 1 (a sum of the ad's regions' counts, each at most"
    f" {MAX_COUNT})"
)


def _aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _said(value: object) -> str:
    return str(value) if isinstance(value, timedelta) else _kind(value)


def _plain(g: AdGain) -> AdGain:
    """``g`` with its ids and counts as plain ints (any whole numbers: a NumPy integer), as an
    AdGain; InvalidValue naming the first field of ``g`` the scan cannot rank by."""
    ids = []
    for name in ("ad_id", "product_id"):
        number = whole(getattr(g, name))
        if number is None:
            raise InvalidValue(name, f"must be a whole number, not {_kind(getattr(g, name))}")
        ids.append(number)
    if type(g.platform) is not Platform:
        raise InvalidValue("platform", f"must be one of: {', '.join(p.value for p in Platform)}")
    counts = []
    for name in ("gained", "base"):
        count = whole(getattr(g, name))
        if count is None or not 0 <= count <= MAX_AD_TOTAL:
            raise InvalidValue(name, f"ad {ids[0]}: {_WHOLE_RULE}")
        counts.append(count)
    for name in ("first_seen", "last_seen"):
        require_aware(name, getattr(g, name))
    return AdGain(ids[0], ids[1], g.platform, counts[0], counts[1], g.first_seen, g.last_seen)
