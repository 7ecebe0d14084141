"""Backtest metrics against small hand-computed cases, and the protocols on tiny data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout.domain import evaluation as ev
from marketscout.domain.evaluation import TrendingRow
from marketscout.domain.model import TrendAssessment, TrendStatus


def test_average_ranks_share_ties() -> None:
    assert ev.average_ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_auc_by_hand() -> None:
    # Positives scored 0.9 and 0.4; negatives 0.5 and 0.1: 3 of 4 pairs ordered right.
    assert ev.roc_auc([0.9, 0.4, 0.5, 0.1], [True, True, False, False]) == 0.75
    assert ev.roc_auc([1, 1], [True, False]) == 0.5
    assert ev.roc_auc([1, 2], [True, True]) is None


def test_precision_at_k_by_hand() -> None:
    assert ev.precision_at_k([5, 4, 3, 2, 1], [True, False, True, False, False], k=2) == 0.5
    assert ev.precision_at_k([1, 2], [True, True], k=20) == 1.0


def test_spearman_by_hand() -> None:
    assert ev.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert ev.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert ev.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_top_share_includes_ties() -> None:
    assert ev.top_share_positive([5, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0]) == [True, True] + [False] * 9


def _rows(video: str, views: list[int], start: date = date(2017, 9, 1)) -> list[TrendingRow]:
    return [TrendingRow(video, "US", start + timedelta(days=i), v) for i, v in enumerate(views)]


def test_forecast_errors_by_hand() -> None:
    """Each candidate of each judged day, for each k with a row k days later: |ln(1 + the first
    k days forecast) - ln(1 + views gained by then)|; a video that left the list is not judged."""
    rows = _rows("a", [100, 200, 300, 400, 500]) + _rows("left", [10, 20])
    rows += [TrendingRow("gap", "US", date(2017, 9, day), views) for day, views in ((1, 0), (2, 10), (4, 40))]
    errors = ev.e1_forecast_errors(rows, {"fifty": lambda rows, day: [50.0] * 7}, horizon=2)
    # Judged days: 2 and 3 September (not the first, not the last two). On the 2nd, "a" gains
    # 100 and 200 by the 3rd and 4th, "gap" 30 by the 4th; on the 3rd, "a" 100 and 200.
    one, two = abs(math.log(51) - math.log(101)), abs(math.log(101) - math.log(201))
    expected = [one, two, abs(math.log(101) - math.log(31)), one, two]
    assert sorted(errors["fifty"]) == pytest.approx(sorted(expected))
    figures = ev.forecast_metrics(errors["fifty"])
    assert figures["forecasts"] == 5
    assert figures["forecast_log_error"] == pytest.approx(sum(expected) / 5, abs=1e-4)
    assert figures["forecast_within_2x"] == 0.8  # all but the gap's (100 against 30)
    assert ev.forecast_metrics([]) == {"forecast_log_error": None, "forecast_within_2x": None, "forecasts": 0}


def test_the_scan_backtest_by_hand() -> None:
    """Seven big videos gaining 1 % a day and a small one tripling daily: on each judged day the
    scan's one hit is the small one, the day's only positive; the video with the most views
    gained is a big one until the small one gains more (on the third judged day)."""
    rows = [r for i in range(7) for r in _rows(f"big{i}", [round(1_000_000 * 1.01**d) for d in range(6)])]
    rows += _rows("small", [1000 * 3**d for d in range(6)])
    daily = ev.e1_scan(rows, horizon=2)
    assert daily["hits"] == [1.0, 1.0, 1.0]
    assert daily["marketscout"] == [1.0, 1.0, 1.0]
    assert daily["relative_growth"] == [1.0, 1.0, 1.0]
    assert daily["most_views_gained"] == [0.0, 0.0, 1.0]
    assert daily["base_rate"] == [0.125] * 3
    figures = ev.scan_metrics(daily)
    assert figures["marketscout"] == {"precision": 1.0, "hits_per_day": 1.0, "days": 3, "days_with_hits": 3}
    assert figures["most_views_gained"] == {"precision": 0.3333}
    assert figures["base_rate"] == 0.125


def test_the_status_backtest_by_hand() -> None:
    """Each judged day's candidates counted by the status the assessor gives them, with how
    many were E1 positives (the day's top 10 % of growth, ties included)."""
    rows = _rows("fast", [10, 100, 1000, 10_000]) + _rows("slow", [1000, 1100, 1200, 1300])
    rows += _rows("flat", [500, 500, 500, 500]) + _rows("new", [0, 0, 5, 10], start=date(2017, 9, 1))

    def assess(rows: Sequence[TrendingRow], day: date) -> TrendAssessment:
        exploding = rows[-1].video_id in ("fast", "new")
        return TrendAssessment(
            score=0.0, status=TrendStatus.EXPLODING if exploding else TrendStatus.STEADY, confidence=0.0
        )

    counts = ev.e1_statuses(rows, assess, horizon=1)
    # Judged days: 2 and 3 September (not the first, not the last). Each day "fast" grows most
    # (x10) and is the one positive; "new" gains too, less.
    assert counts["exploding"] == [4, 2]
    assert counts["steady"] == [4, 0]
    assert counts["peaked"] == [0, 0]
    figures = ev.status_metrics(counts)
    assert figures["base_rate"] == 0.25
    assert figures["statuses"]["exploding"] == {"candidates": 4, "share": 0.5, "positive_share": 0.5}
    assert figures["statuses"]["steady"] == {"candidates": 4, "share": 0.5, "positive_share": 0.0}
    assert figures["statuses"]["declining"] == {"candidates": 0, "share": 0.0, "positive_share": None}
    assert ev.status_metrics({}) == {"statuses": {}, "base_rate": None}


def test_e2_judges_only_days_with_a_video_that_crossed() -> None:
    """E2 by hand, A -> B with a 2-day window. On 1 and 2 September "hit" reaches B within two
    days (on the 3rd), "miss" does not: judged, the hit ranked first by views, 2 and 1 days
    ahead. On the 3rd and 4th the candidates ("miss", and "late", new in A) never reach B:
    nothing to rank, so not judged (they counted, with precision@20 0 for every method)."""
    a = _rows("hit", [1000, 5000, 9000, 9500]) + _rows("miss", [10, 20, 30, 40])
    a += _rows("late", [7, 8], start=date(2017, 9, 3))
    b = [TrendingRow("hit", "CA", date(2017, 9, 3), 9000)]
    b += [TrendingRow("newcomer", "CA", date(2017, 9, 6), 1)]  # B's list goes on to the 6th
    result = ev.run_e2(a, b, {"views": ev.views_in_a}, window=2)
    assert result["views"]["days"] == 2
    assert result["views"]["auc"] == 1.0
    assert result["views"]["precision_at_20"] == 0.5  # one positive among two candidates a day
    assert result["views"]["lead_time_days"] == 1.5


def test_the_naive_forecast_keeps_the_last_pace() -> None:
    rows = [TrendingRow("a", "US", date(2017, 9, 1), 100), TrendingRow("a", "US", date(2017, 9, 3), 500)]
    assert list(ev.last_pace(rows, date(2017, 9, 3))) == [200.0] * 7


def test_e1_protocol_on_a_tiny_list() -> None:
    rows = _rows("fast", [10, 100, 1000, 10_000, 100_000]) + _rows("slow", [1000, 1100, 1200, 1300, 1400])
    rows += _rows("big", [10**6, 10**6 + 10, 10**6 + 20, 10**6 + 30, 10**6 + 40])
    result = ev.run_e1(rows, ev.E1_BASELINES | {"marketscout": ev.marketscout_scorer()}, horizon=2)
    assert result["relative_growth"]["auc"] == 1.0
    assert result["marketscout"]["auc"] == 1.0
    assert result["popularity"]["auc"] == 0.0
    assert result["marketscout"]["days"] == 2


def test_nab_rewards_early_detection_and_charges_false_positives() -> None:
    start = datetime(2015, 3, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=5 * i) for i in range(100)]
    window = [(times[50], times[59])]
    early = [i == 50 for i in range(100)]
    late = [i == 59 for i in range(100)]
    missed = [False] * 100
    noisy = [i in (30, 50) for i in range(100)]
    raw_early, hit, fp, _ = ev.nab_score(times, early, window)
    raw_late, *_ = ev.nab_score(times, late, window)
    raw_missed, missed_hits, _, _ = ev.nab_score(times, missed, window)
    raw_noisy, _, noisy_fp, _ = ev.nab_score(times, noisy, window)
    assert (hit, fp) == (1, 0)
    assert raw_early == pytest.approx(1.0), "the earliest detection is worth exactly a_tp"
    assert raw_late == pytest.approx(ev.scaled_sigmoid(-0.1) / ev.scaled_sigmoid(-1.0))
    assert raw_missed == -1.0 and missed_hits == 0
    assert noisy_fp == 1 and raw_noisy == pytest.approx(raw_early - 0.11)
    probation = [i == 5 for i in range(100)]
    assert ev.nab_score(times, probation, window)[2] == 0, "the first 15 % is probation"


def test_nab_score_matches_numentas_sweeper_on_a_mixed_case() -> None:
    # Expected value computed with numenta/NAB nab/sweeper.py (Sweeper.scoreDataSet, standard
    # profile, threshold 0.5) on the same series: one FP before any window (-0.11), the earliest
    # of two detections in the first window, an FP just after it (cheap) and one far after it,
    # a detection in the second window, an FP after it, the third window missed (-1), and a
    # detection in the probationary period (ignored).
    start = datetime(2015, 3, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=5 * i) for i in range(1000)]
    windows = [(times[300], times[339]), (times[600], times[659]), (times[900], times[939])]
    flagged = {100, 200, 310, 335, 345, 500, 620, 700}
    raw, hits, fps, delays = ev.nab_score(times, [i in flagged for i in range(1000)], windows)
    assert raw == pytest.approx(0.5470031190579099, abs=1e-12)
    assert (hits, fps, delays) == (2, 4, [50.0, 100.0])


def test_nab_probation_is_15_percent_capped_at_750_values() -> None:
    # NAB's sweeper: min(floor(0.15 * rows), 0.15 * 5000). On a 10 000-value series a detection at
    # value 800 is scored (15 % would be 1 500).
    assert ev.probationary_length(200) == 30
    assert ev.probationary_length(10_000) == 750
    start = datetime(2015, 3, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=5 * i) for i in range(10_000)]
    window = [(times[800], times[1199])]
    raw, hits, fps, _ = ev.nab_score(times, [i == 800 for i in range(10_000)], window)
    assert raw == pytest.approx(1.0)
    assert (hits, fps) == (1, 0)
    assert ev.nab_score(times, [i == 700 for i in range(10_000)], window)[0] == -1.0


def test_a_window_inside_the_probationary_period_is_not_scored() -> None:
    start = datetime(2015, 3, 1, tzinfo=UTC)
    times = tuple(start + timedelta(minutes=5 * i) for i in range(1000))
    early, late = (times[10], times[50]), (times[500], times[540])
    raw, hits, _, _ = ev.nab_score(times, [False] * 1000, [early, late])
    assert (raw, hits) == (-1.0, 0), "only the window after probation counts as missed"
    assert ev.scored_windows(times, [early, late]) == 1
    # NAB's runner normalises with null = the scored windows missed and perfect = every labelled
    # window caught: (1 - (-1)) / (2 - (-1)).
    series = [ev.LabelledSeries("s", times, tuple(float(i == 500) for i in range(1000)), (early, late))]
    assert ev.run_e3(series, lambda: lambda value: value, 0.5).score == pytest.approx(66.67)


def test_nab_normalisation_puts_null_at_0_and_perfect_at_100() -> None:
    start = datetime(2015, 3, 1, tzinfo=UTC)
    times = tuple(start + timedelta(minutes=5 * i) for i in range(200))
    series = [
        ev.LabelledSeries("s", times, tuple(float(i == 120) for i in range(200)), ((times[120], times[140]),))
    ]
    assert ev.run_e3(series, lambda: lambda value: 0.0, 0.5).score == 0.0
    assert ev.run_e3(series, lambda: lambda value: value, 0.5).score == 100.0


def test_paired_difference_by_hand() -> None:
    """Day-by-day gaps of 0.1 every day: no spread, so the interval is the point."""
    steady = ev.paired_difference([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])
    assert steady is not None
    assert (steady.difference, steady.low, steady.high, steady.days) == (0.1, 0.1, 0.1, 3)
    # Gaps 0 and 0.2: mean 0.1, standard deviation 0.1414, standard error 0.1, t(1) = 12.706.
    assert ev.paired_difference([0.5, 0.7], [0.5, 0.5]) == ev.Difference(0.1, -1.1706, 1.3706, 2)
    # Days a method could not be judged on are left out of both; one day gives no interval.
    assert ev.paired_difference([0.5, None, 0.7], [0.4, 0.9, None]) == ev.Difference(0.1, None, None, 1)
    assert ev.paired_difference([None], [0.3]) is None


def test_t_quantiles_from_the_table_and_beyond() -> None:
    assert ev.t_975(1) == 12.706 and ev.t_975(30) == 2.042
    for degrees, exact in ((40, 2.0211), (60, 2.0003), (120, 1.9799), (10_000, 1.9602)):
        assert ev.t_975(degrees) == pytest.approx(exact, abs=1e-3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=2, max_size=40))
def test_paired_difference_interval_is_centred_on_the_mean(pairs: list[tuple[float, float]]) -> None:
    ours, theirs = [a for a, _ in pairs], [b for _, b in pairs]
    found = ev.paired_difference(ours, theirs)
    assert found is not None and found.low is not None and found.high is not None
    assert found.low - 1e-4 <= found.difference <= found.high + 1e-4
    assert abs((found.high - found.difference) - (found.difference - found.low)) <= 2e-4


def test_top_places_share_a_tie_and_rising_above_counts_pairs_by_hand() -> None:
    # One market at one moment, three places: 90 (viral) and 80 (seasonal) take one each; the
    # third is shared by the three tied at 70 (a viral, two steady), a third each.
    scored = [(90.0, "viral"), (80.0, "seasonal"), (70.0, "viral"), (70.0, "steady"), (70.0, "steady")]
    shares = ev.top_places([scored], {"viral", "seasonal", "steady"}, places=3)
    assert shares == {"seasonal": round(1 / 3, 4), "steady": round(2 / 9, 4), "viral": round(4 / 9, 4)}
    # Both virals rising: against the seasonal at 80, 90 wins and 70 loses (1 of 2); against
    # each steady at 70, 90 wins and 70 ties (1.5 of 2 each, 3 of 4).
    above = ev.rising_above({(0, 0): scored}, {(0, 0): [90.0, 70.0]})
    assert above == {"seasonal": 0.5, "steady": 0.75}
