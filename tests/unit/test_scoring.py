"""The scoring engine: range, order independence, monotonicity, edge cases, reasons."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout.domain.model import EngagementSnapshot, Platform, TrendStatus
from marketscout.domain.scoring import score_item, score_many

AS_OF = datetime(2026, 5, 1, tzinfo=UTC)


def series(
    views: list[int], *, ad_id: int = 1, region: str = "US", platform: Platform = Platform.TIKTOK
) -> list[EngagementSnapshot]:
    start = AS_OF - timedelta(days=len(views) - 1)
    return [
        EngagementSnapshot(
            ad_id=ad_id,
            product_id=1,
            platform=platform,
            region=region,
            observed_at=start + timedelta(days=i),
            views=v,
            likes=v // 20,
            comments=v // 200,
            shares=v // 500,
        )
        for i, v in enumerate(views)
    ]


cumulative = st.lists(st.integers(0, 10**6), min_size=0, max_size=20).map(
    lambda steps: [sum(steps[: i + 1]) for i in range(len(steps))]
)


@settings(max_examples=80, deadline=None)
@given(views=cumulative, seed=st.integers(0, 1000))
def test_score_is_in_range_and_independent_of_arrival_order(views: list[int], seed: int) -> None:
    snapshots = series(views) + series(
        [v // 2 for v in views], ad_id=2, region="FR", platform=Platform.YOUTUBE
    )
    shuffled = snapshots[:]
    random.Random(seed).shuffle(shuffled)
    first, second = score_item(snapshots, AS_OF), score_item(shuffled, AS_OF)
    assert 0 <= first.score <= 100
    assert 0 <= first.confidence <= 1
    assert first == second


@settings(max_examples=80, deadline=None)
@given(views=cumulative.filter(lambda v: len(v) >= 3), extra=st.integers(1, 10**6))
def test_more_recent_growth_never_lowers_the_score(views: list[int], extra: int) -> None:
    boosted = [*views[:-1], views[-1] + extra]
    assert score_item(series(boosted), AS_OF).score >= score_item(series(views), AS_OF).score


def test_empty_and_single_snapshot_get_low_confidence_not_an_error() -> None:
    empty = score_item([], AS_OF)
    assert empty.confidence == 0
    assert empty.status in {TrendStatus.EMERGING, TrendStatus.STEADY}
    single = score_item(series([100]), AS_OF)
    assert single.confidence < 0.1
    assert single.status in {TrendStatus.EMERGING, TrendStatus.STEADY}
    assert single.reasons


def test_future_snapshots_are_ignored() -> None:
    past = series([100, 200, 400])
    later = EngagementSnapshot(
        ad_id=1,
        product_id=1,
        platform=Platform.TIKTOK,
        region="US",
        observed_at=AS_OF + timedelta(days=1),
        views=10**9,
    )
    assert score_item([*past, later], AS_OF) == score_item(past, AS_OF)


def test_a_breakout_outscores_a_flat_product_and_explains_itself() -> None:
    rising = score_item(series([1000 * 2**i for i in range(10)]), AS_OF)
    flat = score_item(series([50_000 + 100 * i for i in range(10)]), AS_OF)
    assert rising.score > flat.score + 30
    assert rising.status == TrendStatus.EXPLODING
    assert any("views in the last 24 h" in r for r in rising.reasons)
    assert set(rising.growth) == {"24h", "7d", "30d"}
    assert len(rising.forecast) == 7


def test_counter_decreases_are_not_negative_growth() -> None:
    corrected = score_item(series([1000, 2000, 1500, 2500]), AS_OF)
    assert corrected.growth["24h"] >= -1
    assert corrected.components["velocity_24h"] >= 0


def test_decline_and_peak_are_recognised() -> None:
    daily = [0, 100, 1000, 10000, 20000, 10000, 3000, 1000, 500, 200]
    declining = score_item(series([sum(daily[: i + 1]) for i in range(len(daily))]), AS_OF)
    assert declining.status in {TrendStatus.PEAKED, TrendStatus.DECLINING}


def test_one_ad_carrying_everything_is_penalised() -> None:
    spread = series([1000 * 2**i for i in range(8)], ad_id=1) + series(
        [1000 * 2**i for i in range(8)], ad_id=2
    )
    lone = series([2000 * 2**i for i in range(8)], ad_id=1) + series([1000] * 8, ad_id=2)
    assert score_item(lone, AS_OF).components["concentration"] > 0.8
    assert score_item(spread, AS_OF).score > score_item(lone, AS_OF).score


def test_score_many_matches_score_item() -> None:
    items = {1: series([10, 20, 40]), 2: series([5, 5, 6])}
    assert score_many(items, AS_OF) == {k: score_item(v, AS_OF) for k, v in items.items()}
