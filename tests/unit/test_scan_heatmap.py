"""The viral-ad scan and the regional heat map."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout.domain.gains import window_gains
from marketscout.domain.heatmap import heat_map
from marketscout.domain.model import Ad, EngagementSnapshot, Platform
from marketscout.domain.regions import CONTINENTS
from marketscout.domain.scan import scan_viral_ads

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def ad(ad_id: int, product_id: int = 1, platform: Platform = Platform.TIKTOK) -> Ad:
    return Ad(id=ad_id, product_id=product_id, platform=platform, ad_content=f"ad {ad_id}", created_at=NOW)


def readings(
    ad_id: int, views: list[int], product_id: int = 1, region: str = "US"
) -> list[EngagementSnapshot]:
    start = NOW - timedelta(days=len(views) - 1)
    return [
        EngagementSnapshot(
            ad_id=ad_id,
            product_id=product_id,
            platform=Platform.TIKTOK,
            region=region,
            observed_at=start + timedelta(days=i),
            views=v,
        )
        for i, v in enumerate(views)
    ]


def test_the_outlier_among_peers_is_found_first_with_a_reason() -> None:
    ads = {i: ad(i) for i in range(1, 9)}
    snapshots = [s for i in range(1, 8) for s in readings(i, [1000 + 50 * d for d in range(8)])]
    snapshots += readings(8, [1000 * 3**d for d in range(8)])
    found = scan_viral_ads(ads, snapshots, {1: "Lamp"}, NOW)
    assert [v.ad.id for v in found] == [8]
    assert found[0].product_name == "Lamp"
    assert "TikTok" in found[0].reason
    assert 50 < found[0].engagement_score <= 100


def test_the_scan_judges_the_last_day_not_a_burst_earlier_in_the_week() -> None:
    """docs/scoring.md (the viral-ad scan, measured): growth over the last day predicts the next
    days' growth; a week's average keeps an ad that burst days ago and has been flat since."""
    ads = {i: ad(i) for i in range(1, 10)}
    snapshots = [s for i in range(1, 8) for s in readings(i, [1000 + 50 * d for d in range(8)])]
    snapshots += readings(8, [1000, 1000, 30_000, 30_050, 30_100, 30_150, 30_200, 30_250])  # burst 5 days ago
    snapshots += readings(9, [1000, 1050, 1100, 1150, 1200, 1250, 1300, 9000])  # growing today
    found = scan_viral_ads(ads, snapshots, {1: "Lamp"}, NOW)
    assert [v.ad.id for v in found] == [9]


def test_a_quiet_market_has_no_viral_ads() -> None:
    ads = {i: ad(i) for i in range(1, 7)}
    snapshots = [s for i in range(1, 7) for s in readings(i, [1000 + 10 * d for d in range(8)])]
    assert scan_viral_ads(ads, snapshots, {}, NOW) == []


@settings(max_examples=40, deadline=None)
@given(growth=st.lists(st.floats(1.0, 4.0), min_size=2, max_size=10), seed=st.integers(0, 99))
def test_scan_scores_are_bounded_and_order_independent(growth: list[float], seed: int) -> None:
    ads = {i + 1: ad(i + 1) for i in range(len(growth))}
    snapshots = [
        s for i, g in enumerate(growth) for s in readings(i + 1, [int(500 * g**d) for d in range(8)])
    ]
    shuffled = snapshots[:]
    random.Random(seed).shuffle(shuffled)
    first = scan_viral_ads(ads, snapshots, {}, NOW)
    assert first == scan_viral_ads(ads, shuffled, {}, NOW)
    assert all(0 <= v.engagement_score <= 100 for v in first)


def test_heat_map_normalises_by_regional_activity() -> None:
    # Product 1 is small but is all of France's activity; product 2 dominates the US by size.
    snapshots = readings(1, [100, 200, 400], product_id=1, region="FR")
    snapshots += readings(2, [100, 300, 600], product_id=1, region="US")
    snapshots += readings(3, [10_000, 50_000, 100_000], product_id=2, region="US")
    maps = heat_map(snapshots, [1, 2], since=NOW - timedelta(days=3), until=NOW)
    assert maps[1]["Europe"] == 100.0
    assert maps[1]["North America"] < 100
    assert set(maps[1]) == set(CONTINENTS)
    countries = heat_map(snapshots, [1], since=None, until=NOW, level="country")
    assert countries[1]["FR"] == 100.0


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.sampled_from(["US", "FR", "JP", "BR", "NG", "AU", "GLOBAL"]), st.integers(1, 10**6)),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(0, 99),
)
def test_strongest_region_is_exactly_100_and_order_does_not_matter(
    data: list[tuple[str, int]], seed: int
) -> None:
    snapshots = [
        s
        for i, (region, step) in enumerate(data)
        for s in readings(i + 1, [0, step, 2 * step], region=region)
    ]
    shuffled = snapshots[:]
    random.Random(seed).shuffle(shuffled)
    maps = heat_map(snapshots, [1], since=None, until=NOW)
    assert maps == heat_map(shuffled, [1], since=None, until=NOW)
    values = maps[1].values()
    assert all(0 <= v <= 100 for v in values)
    if any(region != "GLOBAL" for region, _ in data):
        assert max(values) == 100.0


def _at(
    ad_id: int, hours_ago: float, views: int, region: str = "US", product_id: int = 1
) -> EngagementSnapshot:
    return EngagementSnapshot(
        ad_id=ad_id,
        product_id=product_id,
        platform=Platform.YOUTUBE,
        region=region,
        observed_at=NOW - timedelta(hours=hours_ago),
        views=views,
    )


def test_a_counter_corrected_downwards_never_counts_as_growth() -> None:
    """Gained in a window = the rise of the running maximum within it, as the engine counts it:
    a drop adds nothing and what follows counts only above the highest reading so far."""
    start = NOW - timedelta(days=7)
    # No reading before the window: the first reading inside it is the level it starts from
    # (not the lowest one, which made the corrected counter look like a 100,000-view gain).
    new_ad = [_at(1, 30, 100_000), _at(1, 20, 100_050), _at(1, 10, 100_100), _at(1, 5, 100), _at(1, 1, 150)]
    # A drop inside the window after a reading before it; a drop across the window's start.
    inside = [_at(2, 8 * 24, 1_000), _at(2, 30, 1_100), _at(2, 20, 50), _at(2, 10, 1_150)]
    across = [_at(3, 8 * 24, 5_000), _at(3, 30, 10), _at(3, 1, 20)]
    gains = {g.ad_id: (g.base, g.gained) for g in window_gains(new_ad + inside + across, start, NOW)}
    assert gains == {1: (100_000, 100), 2: (1_000, 150), 3: (5_000, 0)}
    assert gains == {
        g.ad_id: (g.base, g.gained)
        for g in window_gains(list(reversed(new_ad + inside + across)), start, NOW)
    }


def test_a_corrected_counter_is_not_a_viral_ad() -> None:
    ads = {i: ad(i, platform=Platform.YOUTUBE) for i in range(1, 8)}
    peers = [_at(i, h, 10_000 + 300 * (30 - h)) for i in range(2, 8) for h in (30, 20, 10, 5, 1)]
    corrected = [
        _at(1, 30, 100_000),
        _at(1, 20, 100_050),
        _at(1, 10, 100_100),
        _at(1, 5, 100),
        _at(1, 1, 150),
    ]
    assert [v.ad.id for v in scan_viral_ads(ads, peers + corrected, {}, NOW)] == []
    # The heat map: product 1 really grows in France only; its US counter was corrected.
    others = [_at(9, 30, 1_000, "FR"), _at(9, 1, 2_000, "FR")]
    others += [_at(10, 30, 10_000, "US", 2), _at(10, 1, 60_000, "US", 2)]
    others += [_at(11, 30, 1_000, "FR", 2), _at(11, 1, 2_000, "FR", 2)]
    maps = heat_map(corrected + others, [1], since=NOW - timedelta(days=7), until=NOW, level="country")
    assert maps[1]["FR"] == 100.0
    assert maps[1]["US"] < 1.0


def test_readings_that_share_the_first_instant_start_the_window_from_the_lower_one() -> None:
    """A feed that sends two readings of one instant that disagree: the window grows from the
    lower of them whichever comes first, as the stores take it (the least time, then the least
    views) and as the engine orders them."""
    start = NOW - timedelta(days=1)
    twins = [_at(1, 10, 1_000), _at(1, 10, 900)]
    later = [_at(1, 2, 1_500)]
    for readings_in in (twins + later, list(reversed(twins)) + later):
        [gain] = window_gains(readings_in, start, NOW)
        assert (gain.base, gain.gained) == (900, 600)


_ZONES = (UTC, timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-11)))


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.integers(1, 3),  # ad
            st.sampled_from(["US", "FR"]),
            st.sampled_from([1, 10, 20, 30, 24 * 40]),  # hours ago: readings share instants
            st.sampled_from([0, 100, 900, 1_000, 50_000]),  # views, up and down
            st.integers(0, 2),  # the time zone the instant is written in
        ),
        max_size=16,
    ),
    seed=st.integers(0, 99),
    zone=st.integers(0, 2),
)
def test_gains_scan_and_heat_map_do_not_depend_on_order_or_time_zone(
    data: list[tuple[int, str, int, int, int]], seed: int, zone: int
) -> None:
    snapshots = [
        dataclasses.replace(
            _at(a, hours, views, region), observed_at=(NOW - timedelta(hours=hours)).astimezone(_ZONES[tz])
        )
        for a, region, hours, views, tz in data
    ]
    shuffled = snapshots[:]
    random.Random(seed).shuffle(shuffled)
    now = NOW.astimezone(_ZONES[zone])
    start = NOW - timedelta(days=1)
    assert window_gains(shuffled, start.astimezone(_ZONES[zone]), now) == window_gains(snapshots, start, NOW)
    ads = {i: ad(i, platform=Platform.YOUTUBE) for i in (1, 2, 3)}
    assert scan_viral_ads(ads, shuffled, {}, now) == scan_viral_ads(ads, snapshots, {}, NOW)
    for level in ("continent", "country"):
        assert heat_map(shuffled, [1], since=None, until=now, level=level) == heat_map(
            snapshots, [1], since=None, until=NOW, level=level
        )


def test_the_scan_says_a_rise_as_people_read_it() -> None:
    """Multiples from tenfold up, 'from none' for an ad that had no views, and no float digits
    (not '5000000% a day; 1301000.0x the median', nor '4999999999999994880%')."""
    ads = {i: ad(i) for i in range(1, 9)}
    quiet = [s for i in range(1, 8) for s in readings(i, [1000 + 50 * d for d in range(8)])]
    cases = {
        "+29,000 views/day, 30x a day; 754x the median TikTok ad of its age": [1000] * 7 + [30_000],
        "+50,000 views/day from none before; ": [0] * 7 + [50_000],
        "; over 1,000,000x the median TikTok ad of its age": [1] * 7 + [10**17],
    }
    for says, views in cases.items():
        (found,) = scan_viral_ads(ads, quiet + readings(8, views), {1: "Lamp"}, NOW)
        assert says in found.reason, found.reason
        assert "%" not in found.reason, found.reason
