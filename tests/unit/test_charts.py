"""The dashboard's SVG line charts: fixed scales, so the shape tells the truth."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from marketscout.domain.model import EngagementSnapshot, Platform, TrendAssessment
from marketscout.domain.scoring import score_item
from marketscout.entrypoints.web.charts import component_rows, growth_cells, growth_text, line_chart, polyline

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _shown(rows: list[tuple[str, str, str]]) -> dict[str, str]:
    """The components' rows as the page shows them: name, text."""
    return {name: text for name, _, text in rows}


def _ys(points: str) -> list[float]:
    return [float(pair.split(",")[1]) for pair in points.split()]


def test_a_small_score_change_is_drawn_small_on_the_0_to_100_scale() -> None:
    ys = _ys(polyline([2.5, 0.5], 600, 120, pad=0, high=100.0))
    assert round(abs(ys[0] - ys[1]), 6) == 2.4, "2 points of 100 on a 120-px box"
    assert min(ys) > 110, "both near the bottom, not a full-height crash"


def test_a_constant_series_sits_at_its_level_not_at_zero() -> None:
    assert _ys(polyline([40.0, 40.0, 40.0], 100, 24, pad=0, high=100.0)) == [14.4, 14.4, 14.4]
    assert _ys(polyline([7.0, 7.0], 100, 24, pad=0)) == [0.0, 0.0], "0 to the maximum: at the top"


def test_the_chart_labels_its_range_and_dates() -> None:
    chart = line_chart([2.5, 0.5], what="Trend score", first="Mar 01", last="Mar 02", high=100.0)
    assert (chart.low_label, chart.high_label) == ("0", "100")
    assert (chart.first_label, chart.last_label) == ("Mar 01", "Mar 02")
    assert chart.description == "Trend score, Mar 01 to Mar 02, on a scale from 0 to 100; from 2.5 to 0.5"
    views = line_chart([0.0, 10.0, 4000.0], what="Views", first="a", last="b")
    assert views.high_label == "4,000"


def test_growth_reads_the_same_everywhere_never_minus_zero_and_capped() -> None:
    assert growth_text(None) == "n/a"
    assert growth_text(-0.001) == "0%", "never -0%"
    assert growth_text(0.004) == "0%"
    assert growth_text(0.5) == "+50%"
    assert growth_text(-0.2) == "-20%"
    assert growth_text(92743.0) == "over +999%", "the product page showed +9274300%"


def test_a_growth_without_a_ratio_says_why() -> None:
    """None is "from none" where the window before was read (the days of readings reach back
    two windows) and gained nothing, "n/a" where the readings do not reach back to it, or the
    score does not say how far they do (scores stored before it did)."""
    growth = {"24h": None, "7d": None, "30d": None}
    cells = [text for _, _, text in growth_cells(growth, {"days_of_readings": 20.0})]
    assert cells == ["from none", "from none", "n/a"]
    assert [text for _, _, text in growth_cells(growth, {"days_of_readings": 13.0})] == [
        "from none",
        "n/a",
        "n/a",
    ]
    assert [text for _, _, text in growth_cells(growth, {})] == ["n/a", "n/a", "n/a"]
    assert [text for _, _, text in growth_cells({"24h": 0.5}, {"days_of_readings": 20.0})] == ["+50%"]
    assert [text for _, _, text in growth_cells({"24h": 0.5}, {}, windows=("24h",))] == ["+50%"]


def test_components_have_readable_names_units_and_separators() -> None:
    rows = _shown(
        component_rows(
            {
                "velocity_24h": 27213.0,
                "concentration": 0.8512,
                "mystery_thing": 1234.5,
                "days_of_readings": 20.0,
            }
        )
    )
    assert rows["days of readings behind the score"] == "20"
    assert rows["views gained in 24 h"] == "27,213"
    assert rows["share of recent views from the top ad"] == "85%"
    assert rows["mystery thing"] == "1,234"
    assert all("e+" not in value for value in rows.values())


def test_the_surprise_reads_as_the_reasons_say_it_capped() -> None:
    # A product quiet for weeks that gains 43,236 views in a day stands 21,618 "deviations"
    # above a range of zero: shown as the reasons say it, not as a count nobody can read.
    rows = _shown(component_rows({"surprise": 21618.0}))
    assert rows["last day's gain against its usual range"] == "far above (over 10 deviations)"
    assert (
        _shown(component_rows({"surprise": 4.26}))["last day's gain against its usual range"]
        == "4.3 deviations above"
    )
    assert (
        _shown(component_rows({"surprise": -1.5}))["last day's gain against its usual range"]
        == "1.5 deviations below"
    )
    assert _shown(component_rows({"surprise": 0.0}))["last day's gain against its usual range"] == "within it"


def test_a_line_charts_maximum_stands_below_the_top_with_zero_on_the_axis() -> None:
    # The plot keeps a tenth of its height above the scale's top, where the page sets the
    # top label, so that the highest day does not run along the chart's upper edge.
    views = _ys(line_chart([0.0, 500.0, 1000.0], what="Views", first="a", last="b").points)
    assert views == [158.0, 87.0, 16.0], "0 on the axis (2 px above the edge), the peak 16 px down"
    scores = _ys(line_chart([100.0, 0.0], what="Score", first="a", last="b", height=140, high=100.0).points)
    assert scores == [14.0, 138.0], "100 of 100 a tenth below the top of a 140-px plot"


def test_the_components_say_a_rise_as_the_reasons_do() -> None:
    """The product page showed "rise of total views in 24 h +100%" beside the reason's
    "+99.9%", and "13,001×" against the 3 days before where the reason said there was none."""
    rows = _shown(component_rows({"relative_growth_per_day": math.log(1.999)}))
    assert rows["rise of total views in 24 h"] == "+99.9%"
    rows = _shown(component_rows({"relative_growth_per_day": math.log(12.0)}))
    assert rows["rise of total views in 24 h"] == "12×"
    rows = _shown(component_rows({"acceleration": math.log(13_001.0)}))
    assert rows["last 3 days' gains vs the 3 before"] == "13,001×"
    new = _scored((1, 0), (0, 39_000))
    assert any("none in the 3 before" in r for r in new.reasons), new.reasons
    rows = _shown(component_rows(new.components, new.reasons))
    assert rows["last 3 days' gains vs the 3 before"] == "from none"


def _scored(*readings: tuple[int, int]) -> TrendAssessment:
    """The score of one ad read ``(days ago, views)``, a like for every 20 views."""
    return score_item(
        [
            EngagementSnapshot(
                ad_id=1,
                product_id=1,
                platform=Platform.TIKTOK,
                region="US",
                observed_at=NOW - timedelta(days=d),
                views=v,
                likes=v // 20,
            )
            for d, v in readings
        ],
        NOW,
    )


def _read(*readings: tuple[int, int]) -> dict[str, str]:
    """The shown components (name: text) of one ad read ``(days ago, views)``."""
    scored = _scored(*readings)
    return _shown(component_rows(scored.components, scored.reasons))


def test_momentum_at_its_floor_reads_as_what_it_means_never_the_placeholder() -> None:
    """The product page showed "momentum (log scale) -13.82" for a product without gains: ln of
    the floor the engine puts under a relative growth of none (ln 0 has no value), not a figure."""
    assert _read((2, 400), (1, 900), (0, 900))["momentum (log scale)"] == "no gains"
    # 500 views on 2 billion: a rise under the floor, which momentum reads as the floor plus reach.
    assert _read((1, 2_000_000_000), (0, 2_000_000_500))["momentum (log scale)"] == "rise under a millionth"
    assert _read((1, 1_000), (0, 2_000))["momentum (log scale)"] == "-0.02"
