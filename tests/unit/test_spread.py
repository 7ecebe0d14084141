"""``spread_score``: where an item goes next, from its readings in the regions it has reached."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketscout.domain import evaluation as ev
from marketscout.domain.errors import InvalidValue
from marketscout.domain.evaluation import TrendingRow
from marketscout.domain.model import EngagementSnapshot, Platform
from marketscout.domain.spread import SpreadParams, spread_score

NOW = datetime(2026, 3, 10, tzinfo=UTC)


def snap(region: str, views: int, days_ago: float, ad: int = 1) -> EngagementSnapshot:
    return EngagementSnapshot(
        ad_id=ad,
        product_id=1,
        platform=Platform.YOUTUBE,
        region=region,
        observed_at=NOW - timedelta(days=days_ago),
        views=views,
    )


def test_a_fresh_arrival_outranks_an_old_one_with_the_same_reach() -> None:
    fresh = spread_score([snap("US", 1_000_000, 0)], "CA", NOW)
    old = spread_score([snap("US", 10, 5), snap("US", 1_000_000, 0)], "CA", NOW)
    assert fresh.score > old.score
    assert fresh.age_days == 0 and old.age_days == 5
    assert "still fresh" in fresh.reason and "past the window" in old.reason


def test_more_reach_ranks_higher_at_the_same_age() -> None:
    small = spread_score([snap("US", 50_000, 1)], "CA", NOW)
    big = spread_score([snap("US", 5_000_000, 1)], "CA", NOW)
    assert big.score > small.score
    assert big.views == 5_000_000


def test_reach_sums_the_latest_reading_of_each_ad_and_region_outside_the_target() -> None:
    readings = [
        snap("US", 100, 1, ad=1),
        snap("US", 300, 0, ad=1),
        snap("GB", 200, 0, ad=2),
        snap("CA", 10_000, 0, ad=3),
    ]
    result = spread_score(readings[:3], "CA", NOW)
    assert result.views == 500 and result.sources == ("GB", "US") and not result.reached
    assert spread_score(readings, "CA", NOW).reached


def test_an_item_already_in_the_target_has_reached_it() -> None:
    result = spread_score([snap("US", 10, 2), snap("CA", 5, 1)], "CA", NOW)
    assert result.reached and result.score == 100.0


def test_readings_after_as_of_are_not_seen() -> None:
    early = NOW - timedelta(days=2)
    result = spread_score([snap("US", 10, 3), snap("US", 10**9, 0), snap("CA", 1, 0)], "CA", early)
    assert result.views == 10 and not result.reached


def test_no_readings_elsewhere_scores_zero_with_a_reason() -> None:
    result = spread_score([], "CA", NOW)
    assert result.score == 0.0 and result.reason == "no readings in any other region yet"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["US", "GB", "DE", "CA"]),
            st.integers(0, 10**10),
            st.floats(0, 60),
            st.integers(1, 5),
        ),
        max_size=30,
    ),
    st.sampled_from(["CA", "FR"]),
)
def test_the_score_is_a_bounded_number_whatever_the_readings(
    readings: list[tuple[str, int, float, int]], target: str
) -> None:
    result = spread_score([snap(r, v, d, a) for r, v, d, a in readings], target, NOW)
    assert 0.0 <= result.score <= 100.0
    assert result.reached == any(r == target for r, *_ in readings)


@given(st.integers(0, 10**9), st.floats(0, 30), st.floats(0.01, 30))
def test_the_score_never_rises_with_age(views: int, age: float, later: float) -> None:
    younger = spread_score([snap("US", views, 0)], "CA", NOW + timedelta(days=age))
    older = spread_score([snap("US", views, 0)], "CA", NOW + timedelta(days=age + later))
    assert older.score <= younger.score


def test_e2_protocol_on_a_tiny_pair() -> None:
    day = datetime(2017, 11, 20, tzinfo=UTC).date()
    a = [
        # New in A with a big audience: crosses to B the next day.
        TrendingRow("crosser", "US", day, 2_000_000),
        # A week on A's list, bigger still, and never crosses.
        *(TrendingRow("stayer", "US", day - timedelta(days=k), 9_000_000 - k) for k in range(7)),
        # New in A, small: never crosses.
        TrendingRow("local", "US", day, 20_000),
    ]
    b = [
        TrendingRow("crosser", "CA", day + timedelta(days=1), 10),
        TrendingRow("x", "CA", day + timedelta(days=20), 1),
    ]
    methods = {"marketscout": ev.spread_scorer("CA"), **ev.E2_BASELINES}
    result = ev.run_e2(a, b, methods)
    assert result["marketscout"]["auc"] == 1.0
    assert result["marketscout"]["lead_time_days"] == 1
    # Views in A put the big old video first; relative growth knows nothing of a one-row video.
    assert result["views"]["auc"] == 0.5
    assert result["relative_growth"]["auc"] == 0.25


@pytest.mark.parametrize("years", [1, 2, 5, 50])
def test_an_item_first_seen_years_ago_scores_a_number_not_an_overflow(years: int) -> None:
    """A feed's old readings are legal: an item first seen years ago has no chance left of
    crossing (the hazard has decayed to nothing), whatever its reach."""
    for views in (0, 10**6, 2**63 - 1):
        result = spread_score([snap("US", views, 365 * years)], "CA", NOW)
        assert 0.0 <= result.score <= spread_score([snap("US", views, 30)], "CA", NOW).score
        assert not result.reached and f"first seen {365 * years:.1f} days ago" in result.reason


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("freshness_days", 0.0, "must be a number above 0"),
        ("freshness_days", -1.0, "must be a number above 0"),
        ("freshness_days", math.nan, "must be a number above 0"),
        ("scale", 0.0, "must be a number above 0"),
        ("scale", math.inf, "must be a number above 0"),
        ("centre", math.nan, "must be a finite number"),
        ("centre", "13.8", "must be a finite number"),
    ],
)
def test_spread_params_refuse_what_the_score_cannot_run_with(field: str, value: object, rule: str) -> None:
    """An embedding service hears a bad parameter when it makes it, naming the field, as with
    ScoringParams; not a ZeroDivisionError or a NaN score later."""
    with pytest.raises(InvalidValue) as refused:
        SpreadParams(**{field: value})  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.rule) == (field, rule)


def test_spread_params_are_part_of_the_public_engine() -> None:
    from marketscout import domain

    assert domain.SpreadParams is SpreadParams
    assert SpreadParams() == domain.DEFAULT_SPREAD_PARAMS
    slower = SpreadParams(freshness_days=2.0)
    fresh = [snap("US", 1_000_000, 1.0)]
    assert spread_score(fresh, "CA", NOW, slower).score > spread_score(fresh, "CA", NOW).score


def test_a_region_already_reached_says_its_own_views_and_age() -> None:
    """The answer for a reached target gave the views elsewhere and an age of 0."""
    readings = [
        snap("US", 900_000, 3.0),
        snap("DE", 1_000, 2.0),
        snap("DE", 5_000, 0.5),
        snap("DE", 700, 1.0, ad=2),
    ]
    reached = spread_score(readings, "DE", NOW)
    assert (reached.score, reached.reached) == (100.0, True)
    assert reached.views == 5_700  # the latest of each ad in DE
    assert reached.age_days == 2.0  # since its first reading there
    assert reached.sources == ("US",)
    assert reached.reason == "already seen in DE: 5,700 views, first seen there 2.0 days ago"
