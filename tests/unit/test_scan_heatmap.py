"""The viral-ad scan and the regional heat map."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

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
