"""The scoring engine: range, order independence, monotonicity, edge cases, reasons."""

from __future__ import annotations

import dataclasses
import math
import random
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from marketscout.domain.errors import InvalidValue
from marketscout.domain.model import MAX_COUNT, EngagementSnapshot, Platform, TrendStatus
from marketscout.domain.scoring import (
    DEFAULT_PARAMS,
    SWING_PENALTY,
    ReadingSeries,
    ScoringParams,
    hourly_series,
    reading_series,
    score_item,
    score_many,
    score_series,
)

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
@given(
    steps=st.lists(st.integers(0, 10**9), min_size=2, max_size=40),
    hours=st.lists(st.integers(1, 72), min_size=40, max_size=40),
)
def test_every_figure_is_rounded_as_documented(steps: list[int], hours: list[int]) -> None:
    """The score, the forecast and the day's velocity to two decimals; the confidence, the other
    components and the growth to four; each within half its last decimal of the unrounded
    figure's neighbourhood (the engine rounds them without round(x, n)'s decimal conversion)."""
    views = [sum(steps[: i + 1]) for i in range(len(steps))]
    at = AS_OF
    snapshots = []
    for v, gap in zip(reversed(views), hours, strict=False):
        snapshots.append(
            EngagementSnapshot(
                ad_id=1,
                product_id=1,
                platform=Platform.TIKTOK,
                region="US",
                observed_at=at,
                views=v,
                likes=v // 7,
                comments=v // 300,
            )
        )
        at -= timedelta(hours=gap)
    a = score_item(snapshots, AS_OF)
    two = [a.score, a.components["velocity_24h"], *a.forecast]
    four = [a.confidence, *(v for k, v in a.components.items() if k != "velocity_24h")]
    four += [g for g in a.growth.values() if g is not None]
    assert all(x == round(x, 2) for x in two), two
    assert all(x == round(x, 4) for x in four), four
    # The forecast is the day's gain falling by the measured ratio, to the cent.
    v1 = a.components["velocity_24h"]
    assert a.forecast[0] == pytest.approx(0.6 * v1, abs=0.01 + 1e-9 * v1)


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
    assert any("total views +100.0% in the last 24 h" in r for r in rising.reasons)
    assert set(rising.growth) == {"24h", "7d", "30d"}
    assert len(rising.forecast) == 7


def test_the_forecast_is_the_last_days_gain_falling_by_the_measured_ratio() -> None:
    """docs/scoring.md (Forecast): on real trending data a day's gain is about 0.6 of the day
    before's, accelerating or not; the forecast follows that from the last day's gain (it used
    to start from the three days' mean and bend it by the acceleration, off by twice as much)."""
    steady = score_item(series([1000 * i for i in range(1, 11)]), AS_OF)  # 1,000 views a day
    assert steady.forecast == (600.0, 360.0, 216.0, 129.6, 77.76, 46.66, 27.99)
    rising = score_item(series([1000 * 2**i for i in range(10)]), AS_OF)
    assert rising.forecast[0] == pytest.approx(0.6 * (1000 * 2**9 - 1000 * 2**8))
    assert rising.forecast[1] == pytest.approx(0.36 * (1000 * 2**9 - 1000 * 2**8))
    quiet = score_item(series([5000, 6000, 7000, 7000]), AS_OF)  # nothing gained in the last day
    assert quiet.forecast == (0.0,) * 7


def test_counter_decreases_are_not_negative_growth() -> None:
    corrected = score_item(series([1000, 2000, 1500, 2500]), AS_OF)
    # The day before gained nothing (the correction): no relative change to report, not -100 %.
    assert corrected.growth["24h"] is None
    assert corrected.growth["7d"] is None  # and the readings span 3 days, not 14
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


def test_history_before_tracking_began_is_unknown_not_zero() -> None:
    # Tracking starts on an ad that already has 100,000 views and gains 2,000 a day: the days
    # before tracking are unknown, so it is not accelerating (it was, counted as days of zero).
    seen_late = score_item(series([100_000 + 2_000 * i for i in range(3)]), AS_OF)
    assert seen_late.components["acceleration"] == 0.0
    assert seen_late.status != TrendStatus.EXPLODING
    # A new ad (first seen with fewer views than it has gained since) is known to be new.
    new = score_item(series([100, 5_000, 40_000]), AS_OF)
    assert new.components["acceleration"] > 0.5


def test_one_ad_in_one_region_rising_alone_is_not_exploding() -> None:
    flat = [50_000 + 500 * i for i in range(10)]
    spike = [50_000 + 500 * i for i in range(7)] + [100_000, 250_000, 600_000]
    readings = series(spike, ad_id=1) + series(flat, ad_id=2) + series(flat, ad_id=1, region="GB")
    lone = score_item(readings, AS_OF)
    assert lone.score >= 70
    assert lone.status == TrendStatus.EMERGING
    assert "only one ad in one region is rising" in lone.reasons
    # The same rise on two series is a product taking off.
    both = series(spike, ad_id=1) + series(spike, ad_id=2) + series(flat, ad_id=1, region="GB")
    assert score_item(both, AS_OF).status == TrendStatus.EXPLODING


def test_bot_like_engagement_is_not_exploding() -> None:
    views = [1000 * 2**i for i in range(10)]
    bots = [
        EngagementSnapshot(
            ad_id=1,
            product_id=1,
            platform=Platform.TIKTOK,
            region="US",
            observed_at=AS_OF - timedelta(days=9 - i),
            views=v,
            likes=v // 1000,  # a tenth of a percent: TikTok's norm is 8 %
        )
        for i, v in enumerate(views)
    ]
    assessment = score_item(bots, AS_OF)
    assert assessment.score >= 70
    assert assessment.status == TrendStatus.EMERGING
    assert any("far below the platform's norm" in r for r in assessment.reasons)
    assert score_item(series(views), AS_OF).status == TrendStatus.EXPLODING


def test_readings_without_any_interactions_are_not_judged_bot_like_nor_exploding() -> None:
    # A source that reports views only (YouTube's Canadian trending file of 2017-18 has no
    # likes or comments): interactions never recorded are unknown, not a bot's zero, so the
    # score's quality term is neutral; but views alone are not enough to call it exploding.
    views = [1000 * 2**i for i in range(10)]
    views_only = [
        EngagementSnapshot(
            ad_id=1,
            product_id=1,
            platform=Platform.YOUTUBE,
            region="CA",
            observed_at=AS_OF - timedelta(days=9 - i),
            views=v,
        )
        for i, v in enumerate(views)
    ]
    assessment = score_item(views_only, AS_OF)
    assert assessment.components["quality"] == 0.0
    assert assessment.score >= 70
    assert assessment.status == TrendStatus.EMERGING
    assert "no likes, comments or shares recorded: not called exploding on views alone" in assessment.reasons
    # Not exploding, the reason says what was not judged.
    flat = score_item([dataclasses.replace(s, views=1000 + i) for i, s in enumerate(views_only)], AS_OF)
    assert "no likes, comments or shares recorded: engagement quality not judged" in flat.reasons
    # One like among them is a count: far below the norm, so bot-like as before.
    counted = [*views_only[:-1], dataclasses.replace(views_only[-1], likes=1)]
    assert score_item(counted, AS_OF).status == TrendStatus.EMERGING


def test_a_spike_that_is_over_is_peaked_the_next_day() -> None:
    # Quiet for two weeks (100 views a day), 50,000 in one day, then 300: the spike is over a day
    # later (it showed as steady, with "accelerating 50x" among its reasons).
    daily = [100] * 14 + [50_000, 300]
    spike = score_item(series([1000 + sum(daily[: i + 1]) for i in range(len(daily))]), AS_OF)
    assert spike.status == TrendStatus.PEAKED
    assert "daily gains peaked 1 day ago and are at 1% of the peak" in spike.reasons
    # A day after the best day, a fall by half is not yet a peak (it may be a dip).
    daily = [100] * 14 + [50_000, 25_000]
    dip = score_item(series([1000 + sum(daily[: i + 1]) for i in range(len(daily))]), AS_OF)
    assert dip.status != TrendStatus.PEAKED
    # Two days after it, as before: below half of it is peaked.
    daily = [100] * 14 + [50_000, 20_000, 20_000]
    later = score_item(series([1000 + sum(daily[: i + 1]) for i in range(len(daily))]), AS_OF)
    assert later.status == TrendStatus.PEAKED
    assert "daily gains peaked 2 days ago and are at 40% of the peak" in later.reasons


def test_a_peaked_items_reasons_speak_of_the_rise_as_over() -> None:
    """A spike that is over is not "accelerating" nor "rising": its reasons say the days with the
    peak gained so much more than the days before, and where that rise reached, in the past."""
    daily = [100] * 14 + [50_000, 300]
    readings = [
        snapshot
        for ad_id, region, platform in ((1, "US", Platform.TIKTOK), (2, "FR", Platform.YOUTUBE))
        for snapshot in series(
            [1000 + sum(daily[: i + 1]) for i in range(len(daily))],
            ad_id=ad_id,
            region=region,
            platform=platform,
        )
    ]
    spike = score_item(readings, AS_OF)
    assert spike.status == TrendStatus.PEAKED
    said = "; ".join(spike.reasons)
    assert "accelerating" not in said and "rising on" not in said, said
    assert any(
        r.startswith("the 3 days with the peak gained") and r.endswith("x the 3 before")
        for r in spike.reasons
    )
    assert "the rise reached 2 platforms in 2 regions" in spike.reasons
    # Peaked a week ago and rising again since: the rise is said, below the peak.
    daily = [100] * 7 + [50_000] + [100] * 5 + [200, 600, 1500]
    again = score_item(series([1000 + sum(daily[: i + 1]) for i in range(len(daily))]), AS_OF)
    assert again.status == TrendStatus.PEAKED
    assert any(r.endswith("x the 3 before, still below the peak") for r in again.reasons), again.reasons
    # While it rises, the same figures are said as they were.
    rising = score_item([r for r in readings if r.observed_at < AS_OF], AS_OF - timedelta(days=1))
    assert rising.status != TrendStatus.PEAKED
    assert any(r.startswith("accelerating: last 3 days") for r in rising.reasons)
    assert "rising on 2 platforms in 2 regions" in rising.reasons


def logit(score: float) -> float:
    return math.log(score / (100.0 - score))


def test_a_weekly_swing_is_not_exploding() -> None:
    # Gains that swing with the week (low four days, high three), the same height each week,
    # seen on the third high day: high score, accelerating, and no more than a week ago.
    # Scored as the same rise less the whole swing penalty (in logits).
    daily = [1_000 if day % 7 < 4 else 20_000 for day in range(28)]
    readings = series([10_000 + sum(daily[: i + 1]) for i in range(len(daily))])
    swing = score_item(readings, AS_OF)
    as_a_rise = score_item(readings, AS_OF, ScoringParams(swing_penalty=0.0))
    assert logit(as_a_rise.score) - logit(swing.score) == pytest.approx(SWING_PENALTY, abs=0.01)
    assert as_a_rise.score >= 70  # the rise alone looks like a trend
    assert swing.components["acceleration"] > 1
    assert swing.status == TrendStatus.STEADY  # 40: over the week, it is
    assert "no more than the same days a week ago: a weekly swing" in swing.reasons


def test_a_week_no_busier_than_the_one_before_is_not_exploding() -> None:
    # Twelve days: five at 5,000 views a day, then a week of four quiet days (1,000) and three
    # busy ones (10,000). The last three days are twice the same days a week before, but the
    # week as a whole gained no more a day than the five days before it: a swing, not a rise.
    daily = [5_000] * 5 + [1_000] * 4 + [10_000] * 3
    readings = series([10_000 + sum(daily[:i]) for i in range(len(daily) + 1)])
    swing = score_item(readings, AS_OF)
    as_a_rise = score_item(readings, AS_OF, ScoringParams(swing_penalty=0.0))
    assert logit(as_a_rise.score) - logit(swing.score) == pytest.approx(SWING_PENALTY, abs=0.01)
    assert as_a_rise.score >= 70
    assert swing.components["acceleration"] > 1
    assert swing.status == TrendStatus.EMERGING
    assert "this week gained no more than the week before: a swing, not a rise" in swing.reasons
    # The same last week after quieter days (1,000 a day) is a rise: exploding.
    daily = [1_000] * 5 + [1_000] * 4 + [10_000] * 3
    rise = score_item(series([10_000 + sum(daily[:i]) for i in range(len(daily) + 1)]), AS_OF)
    assert rise.status == TrendStatus.EXPLODING


def test_the_declining_reason_says_the_reported_growth() -> None:
    # Under two weeks: no whole week before the last to compare with, so no figure said either.
    daily = [0] + [9000] * 6 + [6000] * 4 + [3000] * 3
    short = score_item(series([sum(daily[: i + 1]) for i in range(len(daily))]), AS_OF)
    assert short.status == TrendStatus.DECLINING
    assert short.growth["7d"] is None
    assert "engagement down on the previous week" in short.reasons
    # Three weeks: the figure said is the growth reported.
    daily = [5000] * 7 + [10000] * 7 + [6000] * 4 + [3000] * 3
    long = score_item(series([sum(daily[: i + 1]) for i in range(len(daily))]), AS_OF)
    assert long.status == TrendStatus.DECLINING
    down = long.growth["7d"]
    assert down is not None
    assert f"engagement down {abs(down):.0%} on the previous week" in long.reasons


def test_score_many_matches_score_item() -> None:
    items = {1: series([10, 20, 40]), 2: series([5, 5, 6])}
    assert score_many(items, AS_OF) == {k: score_item(v, AS_OF) for k, v in items.items()}


@settings(max_examples=60, deadline=None)
@given(views=cumulative, seed=st.integers(0, 1000), cut=st.integers(-3, 3))
def test_the_core_on_grouped_series_is_the_engine_on_raw_readings(
    views: list[int], seed: int, cut: int
) -> None:
    """What re-scoring hands the core (series grouped per ad and region, in any order, with
    readings after ``as_of`` still in them) scores exactly as the raw readings do."""
    readings = series(views) + series(
        [v // 3 for v in views], ad_id=2, region="DE", platform=Platform.YOUTUBE
    )
    as_of = AS_OF + timedelta(days=cut)
    grouped = reading_series(readings)  # every reading, the later ones too
    shuffle = random.Random(seed).shuffle
    shuffle(grouped)
    assert score_series(grouped, as_of) == score_item(readings, as_of)
    # An embedder's series in any order within: put in time order, the same score.
    mixed = []
    for s in grouped:
        rows = list(zip(s.epochs, s.views, s.interactions, strict=True))
        shuffle(rows)
        mixed.append(
            s._replace(
                epochs=[r[0] for r in rows], views=[r[1] for r in rows], interactions=[r[2] for r in rows]
            )
        )
    assert score_series(mixed, as_of) == score_item(readings, as_of)


def test_a_series_without_readings_beside_others_counts_as_none() -> None:
    """An ad and region with empty lists (an embedder's, nothing read yet) adds nothing: scored
    as the other series alone, not an IndexError from inside."""
    grouped = reading_series(series([100, 200, 400, 800]))
    empty = ReadingSeries(2, Platform.TIKTOK, "DE", [], [], [])
    assert score_series([empty, *grouped], AS_OF) == score_series(grouped, AS_OF)
    assert score_series([*grouped, empty], AS_OF) == score_series(grouped, AS_OF)


def test_a_series_with_lists_of_different_lengths_is_refused() -> None:
    broken = ReadingSeries(1, Platform.TIKTOK, "US", [1.0, 2.0], [5], [0, 0])
    with pytest.raises(InvalidValue, match="differ in length") as refused:
        score_series([broken], AS_OF)
    assert refused.value.field == "series"


def test_reading_series_groups_per_ad_and_region_in_time_order() -> None:
    readings = series([5, 9], ad_id=2, region="FR") + series([1, 3, 2], ad_id=1)
    random.Random(3).shuffle(readings)
    first, second = reading_series(readings)
    day = 86400.0
    assert first == ReadingSeries(
        1,
        Platform.TIKTOK,
        "US",
        [AS_OF.timestamp() - 2 * day, AS_OF.timestamp() - day, AS_OF.timestamp()],
        [1, 3, 2],
        [0, 0, 0],
    )
    assert (second.ad_id, second.region, second.views) == (2, "FR", [5, 9])
    assert reading_series(readings, AS_OF - timedelta(days=1))[0].views == [1, 3]


def test_hourly_series_keep_each_hour_s_last_time_and_highest_counters() -> None:
    base = AS_OF.replace(hour=10)
    readings = [
        EngagementSnapshot(
            ad_id=1,
            product_id=1,
            platform=Platform.TIKTOK,
            region="US",
            observed_at=base + timedelta(minutes=minute),
            views=views,
            likes=likes,
            comments=1,
        )
        for minute, views, likes in [(5, 100, 9), (50, 90, 12), (20, 120, 3), (65, 130, 1), (190, 500, 0)]
    ]
    found = hourly_series(readings, since=base + timedelta(minutes=30), until=base + timedelta(hours=2))
    # The 10:00 hour (since is floored to it) and the 11:00 hour; the 13:00 hour is after until.
    assert found == [
        ReadingSeries(
            1,
            Platform.TIKTOK,
            "US",
            [(base + timedelta(minutes=50)).timestamp(), (base + timedelta(minutes=65)).timestamp()],
            [120, 130],
            [13, 2],
        )
    ]
    assert hourly_series(readings, since=base + timedelta(hours=5), until=base + timedelta(hours=6)) == []
    assert score_series([], AS_OF) == score_item([], AS_OF)


def test_interactions_beyond_the_largest_count_are_counted_as_it() -> None:
    """Likes, comments and shares each up to 2^63 - 1: their sum, the interactions the engine
    reads, is at most 2^63 - 1 too (what the stores' 64-bit rollups hold), in raw readings and in
    hourly points alike, so such readings score instead of being refused as out of range."""
    top = MAX_COUNT
    readings = [
        dataclasses.replace(r, likes=likes, comments=comments, shares=top)
        for r, (likes, comments) in zip(
            series([10, 10**6, 10**9, top]), [(0, 0), (top, 0), (top - 5, 4), (top, top)], strict=True
        )
    ]
    expected = [top, top, top, top]
    (raw,) = reading_series(readings)
    assert raw.interactions == expected
    (hourly,) = hourly_series(readings, since=AS_OF - timedelta(days=5), until=AS_OF)
    assert hourly.interactions == expected
    assert score_item(readings, AS_OF) == score_series([hourly], AS_OF)
    below = [dataclasses.replace(r, likes=top - 1, comments=0, shares=0) for r in readings]
    assert reading_series(below)[0].interactions == [top - 1] * 4


def test_growth_is_the_relative_change_or_none_without_an_earlier_window() -> None:
    # 40 days of readings, 100 views a day for the first 33 days, then 300 a day.
    views = [1_000 + 100 * min(d, 33) + 300 * max(d - 33, 0) for d in range(40)]
    growth = score_item(series(views), AS_OF).growth
    assert growth["24h"] == 0.0  # 300 views against 300 the day before
    assert growth["7d"] == pytest.approx((6 * 300 + 100) / 700 - 1, abs=1e-4)
    # The readings do not reach back to the start of the 30 days before the last 30.
    assert growth["30d"] is None
    # Nothing gained in the week before: no relative change to report (it used to be about the
    # week's raw view count, 1,800 here), while the status still reads the recent rise.
    flat_then_up = [5_000] * 14 + [5_000 + 300 * d for d in range(1, 8)]
    rising = score_item(series(flat_then_up), AS_OF)
    assert rising.growth == {"24h": 0.0, "7d": None, "30d": None}
    assert score_item(series([5_000]), AS_OF).growth == {"24h": None, "7d": None, "30d": None}


def test_the_days_of_readings_tell_a_window_that_gained_nothing_from_one_not_observed() -> None:
    """``growth`` is None for two reasons (docs/api.md): the readings do not reach back to the
    window before, or it gained nothing. The demo's fastest risers, flat at their first counts
    for two weeks and then gaining thousands a day, showed "n/a" for the week as a product
    tracked for three days does; ``days_of_readings`` (whole days from the first reading to the
    score's moment) tells the two apart: a window of ``w`` days before was observed from 2w on."""
    flat_then_up = [5_000] * 14 + [5_000 + 300 * d for d in range(1, 8)]  # 20 days of readings
    rising = score_item(series(flat_then_up), AS_OF)
    assert rising.growth["7d"] is None
    assert rising.components["days_of_readings"] == 20.0, "the week before was observed: it gained nothing"
    young = score_item(series([5_000, 5_300, 5_600, 5_900]), AS_OF)
    assert young.growth["24h"] == 0.0
    assert young.growth["7d"] is None
    assert young.components["days_of_readings"] == 3.0, "no week before to compare with"
    # Whole days, counted as the growth windows count them: a reading exactly 14 days before the
    # score's moment observes the week before; one a second later does not.
    first, *rest = series([100, 100, 400])
    edge = [dataclasses.replace(first, observed_at=AS_OF - timedelta(days=14)), *rest]
    assert score_item(edge, AS_OF).components["days_of_readings"] == 14.0
    later = [
        dataclasses.replace(edge[0], observed_at=AS_OF - timedelta(days=14) + timedelta(seconds=1)),
        *edge[1:],
    ]
    assert score_item(later, AS_OF).components["days_of_readings"] == 13.0


def _reference_daily_gains(readings: list[tuple[float, int]], as_of: float, days: int) -> list[float]:
    """Views gained on each day before ``as_of`` (day 0 = the last 24 hours), reading by reading
    (in time order, one per instant): each rise above the highest reading so far spread evenly
    over the interval since the reading before, a day counting the readings at its older edge."""
    gains = [0.0] * days
    highest = readings[0][1]
    older = readings[0][0]
    for at, seen in readings[1:]:
        gained, highest = max(seen - highest, 0), max(seen, highest)
        if gained:
            for day in range(days):
                newer_edge, older_edge = as_of - day * 86400.0, as_of - (day + 1) * 86400.0
                overlap = min(at, newer_edge) - max(older, older_edge)
                if overlap > 0:
                    gains[day] += gained * overlap / (at - older)
        older = at
    return gains


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 4 * 24 * 60), st.integers(-1_000, 10**6)), min_size=2, max_size=60
    ),
    start=st.integers(0, 10**9),
    offset=st.integers(0, 24 * 60),
)
def test_the_daily_gains_are_the_rises_spread_over_their_intervals(
    steps: list[tuple[int, int]], start: int, offset: int
) -> None:
    """Readings minutes to days apart (some at the same time, some corrected downwards), the
    newest ``offset`` minutes before ``as_of``: the last day's gain, and the 7-day and 30-day
    growth, are what spreading each rise over its interval gives (the engine reads the running
    maximum at the days' edges instead of reading by reading). Readings that share an instant
    are one reading, with the highest views: the lower is a collector a moment behind, and the
    rise to the higher took the whole interval before it."""
    readings: list[tuple[float, int]] = []
    at, views = AS_OF.timestamp() - offset * 60, start
    for gap, change in reversed(steps):
        readings.append((at, max(views, 0)))
        at, views = at - gap * 60, views - change
    readings.reverse()
    as_of = AS_OF.timestamp()
    a = score_series(
        [
            ReadingSeries(
                1,
                Platform.TIKTOK,
                "US",
                [t for t, _ in readings],
                [v for _, v in readings],
                [0] * len(readings),
            )
        ],
        AS_OF,
    )
    highest: dict[float, int] = {}
    for at, seen in readings:
        highest[at] = max(highest.get(at, seen), seen)
    readings = sorted(highest.items())
    if len(readings) == 1:  # one instant: one reading, nothing to compare it with
        assert a.reasons == ("not enough data yet",)
        return
    daily = _reference_daily_gains(readings, as_of, 60)
    level = max(v for _, v in readings)
    # Within the engine's rounding and the last bits of the level the gains are read from.
    slack = 1e-9 * level
    assert a.components["velocity_24h"] == pytest.approx(daily[0], abs=0.01 + slack)
    for label, days in (("7d", 7), ("30d", 30)):
        recent, before = sum(daily[:days]), sum(daily[days : 2 * days])
        observed = readings[0][0] <= as_of - 2 * days * 86400.0
        if observed and before > 1:
            expected = recent / before - 1
            assert a.growth[label] == pytest.approx(
                expected, abs=1e-4 + 4 * slack * (1 + abs(expected)) / before
            )
        elif not observed or before == 0:
            assert a.growth[label] is None


def test_days_sharing_one_spread_gain_tie() -> None:
    """A gain spread over days without readings gives each of them the same share: the last
    three days are not "less than the three before", and the peak is the most recent of them
    (read at the days' edges, those shares differ in their last bits)."""
    day = 86400.0
    as_of = AS_OF.timestamp()
    # Read 12.9, 9.9 and 6.9 days ago, then now: the last 6.9 days share one gain evenly.
    epochs = [as_of - 12.869 * day, as_of - 9.869 * day, as_of - 6.869 * day, as_of]
    views = [3_185_159, 3_503_264, 4_139_474, 4_176_720]
    spread = score_series(
        [ReadingSeries(1, Platform.TIKTOK, "DE", epochs, views, [v // 25 for v in views])], AS_OF
    )
    assert spread.status != TrendStatus.DECLINING
    # Read 6.8 days ago and 0.8 days ago: days 1 to 5 share the gain, the most recent of them
    # is a day old, and today's share of it (a fifth of a day's) is not a spike that is over.
    epochs, views = [as_of - 6.757 * day, as_of - 0.757 * day], [6_539_916, 6_993_706]
    gap = score_series(
        [ReadingSeries(1, Platform.TIKTOK, "DE", epochs, views, [v // 25 for v in views])], AS_OF
    )
    assert gap.status != TrendStatus.PEAKED


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("scale", 0.0, "must be a number from 0.01 to 100"),
        ("scale", math.inf, "must be a number from 0.01 to 100"),
        ("scale", 1e-300, "must be a number from 0.01 to 100"),
        ("reach_weight", math.nan, "must be a number from -10 to 10"),
        ("reach_weight", 1e6, "must be a number from -10 to 10"),
        ("acceleration_weight", -10.5, "must be a number from -10 to 10"),
        ("breadth_weight", 11, "must be a number from -10 to 10"),
        ("quality_weight", True, "must be a number from -10 to 10"),
        ("concentration_penalty", 1e300, "must be a number from -10 to 10"),
        ("swing_penalty", -1e9, "must be a number from -10 to 10"),
        ("centre", -math.inf, "must be a number from -50 to 50"),
        ("centre", 1000, "must be a number from -50 to 50"),
        ("centre", -50.5, "must be a number from -50 to 50"),
        ("horizon_days", 13, "must be a whole number from 14 to 365"),
        ("forecast_days", 0, "must be a whole number from 1 to 30"),
        ("forecast_daily_ratio", 1.5, "must be a number from 0 to 1"),
        ("forecast_daily_ratio", -0.1, "must be a number from 0 to 1"),
    ],
)
def test_parameters_out_of_their_range_are_refused_naming_the_field(
    field: str, value: float, rule: str
) -> None:
    """An embedding service (or ``backtest --set``) that sets a parameter the engine cannot run
    with hears which one and why, when it builds the parameters, not as a crash in scoring."""
    change: dict[str, Any] = {field: value}
    with pytest.raises(InvalidValue) as refused:
        dataclasses.replace(DEFAULT_PARAMS, **change)
    assert (refused.value.field, refused.value.rule) == (field, rule)


_EXTREMES = (-10.0, -1.0, 0.0, 1.0, 10.0)


@settings(max_examples=150, deadline=None)
@given(
    views=cumulative,
    reach=st.sampled_from(_EXTREMES),
    centre=st.sampled_from((-50.0, 0.0, 50.0)),
    scale=st.sampled_from((0.01, 1.0, 100.0)),
    weights=st.tuples(*[st.sampled_from(_EXTREMES)] * 5),
)
def test_any_parameters_within_their_bounds_give_a_score_in_range(
    views: list[int],
    reach: float,
    centre: float,
    scale: float,
    weights: tuple[float, float, float, float, float],
) -> None:
    """Parameters at the ends of their bounds, on any readings: a score from 0 to 100, never an
    OverflowError (a centre of 50 at scale 0.01 gave math.exp(5000))."""
    acceleration, breadth, quality, concentration, swing = weights
    params = ScoringParams(
        reach_weight=reach,
        centre=centre,
        scale=scale,
        acceleration_weight=acceleration,
        breadth_weight=breadth,
        quality_weight=quality,
        concentration_penalty=concentration,
        swing_penalty=swing,
    )
    readings = series(views) + series([v * 10**11 for v in views], ad_id=2, region="FR")
    assert 0 <= score_item(readings, AS_OF, params).score <= 100


def test_parameters_within_their_range_change_the_score() -> None:
    """Negative weights are allowed (a term may be tried against the data in both directions)."""
    views = [1000 * 2**k for k in range(8)]
    plain = score_item(series(views), AS_OF)
    no_reach = score_item(series(views), AS_OF, ScoringParams(reach_weight=-0.05, forecast_daily_ratio=0.0))
    assert no_reach.score < plain.score
    assert set(no_reach.forecast) == {0.0}


def test_a_moment_without_a_utc_offset_is_refused_by_name() -> None:
    # A naive as_of was read as local time by score_series and was a TypeError in score_item.
    naive = datetime(2026, 5, 1)  # noqa: DTZ001 - the point of the test
    readings = series([100, 200, 400])
    for score in (
        lambda: score_item(readings, naive),
        lambda: score_series(reading_series(readings, AS_OF), naive),
        lambda: score_many({1: readings}, naive),
    ):
        with pytest.raises(InvalidValue) as refused:
            score()
        assert (refused.value.field, refused.value.rule) == ("as_of", "must carry a UTC offset")


def test_the_domain_package_exports_its_public_api_and_its_example_runs() -> None:
    from marketscout import domain
    from marketscout.domain import scoring

    assert all(hasattr(domain, name) for name in domain.__all__)
    assert domain.score_item is scoring.score_item
    doc = domain.__doc__ or ""
    example = doc.split("::\n", 1)[1].split("\n\n- ", 1)[0]
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(example).replace("print(", "found = ("), namespace)  # noqa: S102
    found = namespace["found"]
    assert isinstance(found, tuple) and found[1] == TrendStatus.EXPLODING and found[0] > 90


_ZONES = (UTC, timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-11)))


@settings(max_examples=150, deadline=None)
@given(
    readings=st.lists(
        st.tuples(
            st.integers(0, 3),  # days before AS_OF: readings often share an instant
            st.sampled_from([0, 500, 1000, 400_000]),  # views: counters go down as well as up
            st.sampled_from([0, 1, 40]),  # likes
            st.integers(0, 2),  # the time zone the instant is written in
        ),
        min_size=2,
        max_size=12,
    ),
    seed=st.integers(0, 1000),
    zone=st.integers(0, 2),
)
def test_duplicate_and_conflicting_readings_score_the_same_in_any_order_and_time_zone(
    readings: list[tuple[int, int, int, int]], seed: int, zone: int
) -> None:
    """Feeds send the same reading twice, or two readings of one instant that disagree (a
    corrected count, a like more): the answer must not depend on which of them comes first, nor
    on the time zone the instants are written in."""
    snapshots = [
        EngagementSnapshot(
            ad_id=1,
            product_id=1,
            platform=Platform.TIKTOK,
            region="US",
            observed_at=(AS_OF - timedelta(days=days)).astimezone(_ZONES[tz]),
            views=views,
            likes=likes,
        )
        for days, views, likes, tz in readings
    ]
    shuffled = snapshots[:]
    random.Random(seed).shuffle(shuffled)
    assert score_item(shuffled, AS_OF.astimezone(_ZONES[zone])) == score_item(snapshots, AS_OF)


@pytest.mark.parametrize(
    ("views", "says", "never"),
    [
        # A rise under tenfold is said in per cent; of the total views, which is not the
        # growth of the daily gains that growth["24h"] and the dashboard's lists show.
        ([1000, 1350], "total views +35.0% in the last 24 h (+350 views)", None),
        # Tenfold and more in multiples, not '+1098.9%'.
        ([1000, 12_000], "total views up 12x in the last 24 h (+11,000 views)", "%"),
        # From nothing, no ratio at all: not '+10000000.0%', nor '33334.3x the 3 before'.
        ([0, 100_000], "100,000 views in the last 24 h, from none before", "%"),
        ([0, 100_000], "accelerating: last 3 days gained 100,000 views, none in the 3 before", None),
        # A spike beyond a million-fold is said as such, not as a float's last digits.
        ([1000, 10**17], "total views up over 1,000,000x in the last 24 h", "776"),
        ([5, 5, 5, 200_000], "total views up 33,334x in the last 24 h (+199,995 views)", None),
    ],
)
def test_a_rise_is_said_as_people_read_it(views: list[int], says: str, never: str | None) -> None:
    reasons = score_item(series(views), AS_OF).reasons
    assert any(r.startswith(says) for r in reasons), reasons
    if never is not None:
        growth = [r for r in reasons if "24 h" in r]
        assert growth and not any(never in r for r in growth), reasons


def test_the_usual_range_is_the_days_observed_not_days_before_the_first_reading() -> None:
    """A product gaining 100 views every day for ten days was said to gain 'far outside its
    usual range' (surprise 50): the days before its first reading counted as days without
    gains. Its range is the days it was observed; with fewer than three of them it has none."""
    steady = score_item(series([1000 + 100 * i for i in range(10)]), AS_OF)
    assert steady.components["surprise"] == 0.0
    assert not any("usual range" in r for r in steady.reasons), steady.reasons
    spike = score_item(series([1000 + 100 * i for i in range(9)] + [1800 + 5000]), AS_OF)
    assert spike.components["surprise"] > 10
    assert "daily gain far outside its usual range" in spike.reasons
    young = score_item(series([1000, 1100, 5000]), AS_OF)
    assert young.components["surprise"] == 0.0, "two days observed: no usual range yet"
    assert not any("usual range" in r for r in young.reasons), young.reasons


# Readings of several ads (each on its one platform) in two regions: (ad, region, hours before
# AS_OF, views, likes). Hours on a coarse grid, so that readings often share an instant.
_PLATFORM_OF_AD = {1: Platform.TIKTOK, 2: Platform.YOUTUBE, 3: Platform.TIKTOK}


def _snapshot_of(ad: int, region: str, views: int, *, minutes: int = 0, likes: int = 0) -> EngagementSnapshot:
    return EngagementSnapshot(
        ad_id=ad,
        product_id=1,
        platform=_PLATFORM_OF_AD[ad],
        region=region,
        observed_at=AS_OF - timedelta(minutes=minutes),
        views=views,
        likes=likes,
    )


_readings = st.lists(
    st.tuples(
        st.sampled_from(sorted(_PLATFORM_OF_AD)),
        st.sampled_from(["US", "FR"]),
        st.integers(0, 10 * 24).map(lambda h: h - h % 6),
        st.sampled_from([0, 90, 1000, 5000, 400_000]),
        st.sampled_from([0, 3, 40]),
    ),
    min_size=0,
    max_size=16,
).map(
    lambda rows: [
        _snapshot_of(ad, region, views, minutes=60 * hours, likes=likes)
        for ad, region, hours, views, likes in rows
    ]
)


@settings(max_examples=150, deadline=None)
@given(readings=_readings, copies=st.lists(st.integers(0, 15), max_size=16), seed=st.integers(0, 1000))
def test_duplicating_readings_never_changes_the_score(
    readings: list[EngagementSnapshot], copies: list[int], seed: int
) -> None:
    """Two collectors that both send the same reading (the same ad, region and instant): it
    counts once, so any readings given twice, in any order, score exactly as given once. (Given
    twice, one reading was two observations: scored as if compared with itself, and more
    confident; two readings of a series raised its confidence.)"""
    doubled = readings + [readings[i] for i in copies if i < len(readings)]
    random.Random(seed).shuffle(doubled)
    once = score_item(readings, AS_OF)
    assert score_item(doubled, AS_OF) == once
    # The core likewise: a reading twice within a series, or a whole series given twice.
    grouped = reading_series(readings)
    assert score_series(reading_series(doubled), AS_OF) == once
    assert score_series(grouped + grouped[: seed % 3], AS_OF) == once


@settings(max_examples=100, deadline=None)
@given(readings=_readings, seed=st.integers(0, 1000))
def test_shuffling_readings_never_changes_the_score(readings: list[EngagementSnapshot], seed: int) -> None:
    shuffled = readings[:]
    random.Random(seed).shuffle(shuffled)
    assert score_item(shuffled, AS_OF) == score_item(readings, AS_OF)
    grouped = reading_series(readings)
    random.Random(seed).shuffle(grouped)
    assert score_series(grouped, AS_OF) == score_item(readings, AS_OF)


def test_one_reading_given_twice_is_still_one_reading() -> None:
    reading = series([1000])[0]
    assert score_item([reading, reading], AS_OF) == score_item([reading], AS_OF)
    assert score_item([reading, reading], AS_OF).reasons == ("not enough data yet",)


def test_readings_of_one_instant_that_disagree_count_as_their_highest_counters() -> None:
    """Two collectors read an ad at the same instant, one a moment behind: the instant's views
    and interactions are the higher of the two, whichever arrives first."""
    earlier, now = series([1000, 3000])
    behind = dataclasses.replace(now, views=2500, likes=400)
    merged = dataclasses.replace(now, likes=400)
    assert score_item([earlier, now, behind], AS_OF) == score_item([earlier, merged], AS_OF)
    assert score_item([behind, earlier, now], AS_OF) == score_item([earlier, merged], AS_OF)


def test_a_window_that_gained_nothing_after_one_that_gained_nothing_reports_no_change() -> None:
    """A product whose counts stood still over both windows reports a growth of 0 (no change), not
    None: None would read as "from none", a rise from nothing, which lists it first among the
    fastest growers (/?sort=growth_7d). None stays for a rise from nothing and for a window
    before that the readings do not reach."""
    still = score_item(series([5_000] * 70), AS_OF)
    assert still.growth == {"24h": 0.0, "7d": 0.0, "30d": 0.0}
    assert still.components["days_of_readings"] >= 60
    flat_then_up = [5_000] * 14 + [5_000 + 300 * d for d in range(1, 8)]
    assert score_item(series(flat_then_up), AS_OF).growth["7d"] is None, "a rise from nothing"
    # Gained before, nothing since: the whole fall, as before.
    up_then_flat = [5_000 + 300 * d for d in range(14)] + [5_000 + 300 * 13] * 7
    assert score_item(series(up_then_flat), AS_OF).growth["7d"] == -1.0


def test_a_rise_on_several_platforms_in_one_region_says_region_once() -> None:
    """A region's own score (one country's readings) often rises on several platforms in that
    one region: said "in 1 region", never "in 1 regions"."""
    daily = [100] * 14 + [200, 600, 1500]
    readings = [
        snapshot
        for ad_id, platform in ((1, Platform.TIKTOK), (2, Platform.YOUTUBE))
        for snapshot in series(
            [1000 + sum(daily[: i + 1]) for i in range(len(daily))],
            ad_id=ad_id,
            region="DE",
            platform=platform,
        )
    ]
    said = score_item(readings, AS_OF).reasons
    assert "rising on 2 platforms in 1 region" in said, said


@settings(max_examples=150, deadline=None)
@given(
    readings=_readings,
    ad=st.sampled_from(sorted(_PLATFORM_OF_AD)),
    region=st.sampled_from(["US", "FR"]),
    minutes=st.integers(0, 10 * 24 * 60),
    views=st.sampled_from([0, 90, 1000, 5000, 400_000]),
)
@example(readings=[_snapshot_of(1, "US", 1000, minutes=10)], ad=1, region="US", minutes=0, views=1000).via(
    "two readings ten minutes apart"
)
def test_a_reading_more_never_lowers_the_confidence(
    readings: list[EngagementSnapshot], ad: int, region: str, minutes: int, views: int
) -> None:
    """Confidence grows with the number of readings and the time they span (docs/scoring.md):
    one reading more (of any ad and region of the item, at any time up to as_of) never lowers
    it. (One reading was 0.05 and two readings ten minutes apart 0.0126: the one-reading case
    was a constant beside the formula.)"""
    added = [*readings, _snapshot_of(ad, region, views, minutes=minutes)]
    before, after = score_item(readings, AS_OF), score_item(added, AS_OF)
    assert after.confidence >= before.confidence, (before.confidence, after.confidence)
    assert score_series(reading_series(added), AS_OF).confidence == after.confidence


def test_one_reading_is_as_confident_as_the_formula_says() -> None:
    """The confidence of one reading is the formula's for one reading spanning no time, below
    that of two readings however close."""
    one = score_item([_snapshot_of(1, "US", 100)], AS_OF)
    assert one.confidence == round((1 - math.exp(-1 / 12)) * (1 - math.exp(-0.25 / 3)), 4)
    assert one.reasons == ("not enough data yet",)
    two = score_item([_snapshot_of(1, "US", 100, minutes=1), _snapshot_of(1, "US", 101)], AS_OF)
    assert 0 < one.confidence < two.confidence
