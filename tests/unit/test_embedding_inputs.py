"""What an embedding service gets for bad input to the public functions of ``marketscout.domain``:
an InvalidValue naming the field and the rule, never a TypeError, KeyError, OverflowError or a
naive time silently read as local time."""

from __future__ import annotations

import math
import numbers
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketscout import domain
from marketscout.domain import (
    EngagementSnapshot,
    InvalidValue,
    Platform,
    ReadingSeries,
    heat_map,
    rank_gains,
    score_series,
    spread_score,
    window_gains,
)
from marketscout.domain.alert_rules import evaluate_rule
from marketscout.domain.gains import ad_gains
from marketscout.domain.model import (
    MAX_COUNT,
    AlertRule,
    AlertRuleKind,
    TrendAssessment,
    TrendScore,
    TrendStatus,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
NAIVE = datetime(2026, 12, 1)  # noqa: DTZ001 - the point: a time without an offset


def _snapshot(**changes: Any) -> EngagementSnapshot:
    values: dict[str, Any] = {
        "ad_id": 1,
        "product_id": 1,
        "platform": Platform.TIKTOK,
        "region": "US",
        "observed_at": NOW,
        "views": 10,
    }
    return EngagementSnapshot(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"views": math.nan}, "views"),
        ({"views": math.inf}, "views"),
        ({"views": 1.5}, "views"),
        ({"views": True}, "views"),
        ({"views": "10"}, "views"),
        ({"views": 10**400}, "views"),
        ({"likes": 2**63}, "likes"),
        ({"shares": -1}, "shares"),
        ({"platform": "MySpace"}, "platform"),
        ({"platform": "tiktok"}, "platform"),
        ({"region": ""}, "region"),
        ({"observed_at": "2026-01-01"}, "observed_at"),
        ({"observed_at": NAIVE}, "observed_at"),
    ],
)
def test_a_snapshot_refuses_what_it_cannot_count_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        _snapshot(**changes)
    assert refused.value.field == field


def test_a_platform_given_as_its_name_is_read_as_the_platform() -> None:
    assert _snapshot(platform="TikTok").platform is Platform.TIKTOK


def test_a_series_that_cannot_be_scored_is_refused_by_name() -> None:
    good = ReadingSeries(1, Platform.TIKTOK, "US", [0.0, 86_400.0], [1, 2], [0, 0])
    for series, field in (
        (good._replace(platform="tiktok"), "platform"),  # type: ignore[arg-type]
        (good._replace(views=[-5, 2]), "views"),
    ):
        with pytest.raises(InvalidValue) as refused:
            score_series([series], NOW)
        assert refused.value.field == field, series


def test_every_public_function_refuses_a_naive_time_by_name() -> None:
    snaps = [_snapshot(), _snapshot(observed_at=NOW - timedelta(days=1), views=5)]
    calls: list[Callable[[], object]] = [
        lambda: window_gains(snaps, NAIVE - timedelta(days=1), NAIVE),
        lambda: heat_map(snaps, [1], since=None, until=NAIVE),
        lambda: spread_score(snaps, "DE", NAIVE),
        lambda: rank_gains([], NAIVE),
        lambda: evaluate_rule(
            AlertRule(user_id=1, kind=AlertRuleKind.STATUS_EXPLODING, created_at=NOW), 1, "P", [], [], NAIVE
        ),
    ]
    for number, call in enumerate(calls):
        with pytest.raises(InvalidValue) as refused:
            call()
        assert "UTC offset" in refused.value.rule, number


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (AlertRule(user_id=1, kind=AlertRuleKind.SCORE_THRESHOLD, created_at=NOW), "threshold"),
        (AlertRule(user_id=1, kind=AlertRuleKind.SCORE_RISE, threshold=5, created_at=NOW), "window_hours"),
        (
            AlertRule(user_id=1, kind=AlertRuleKind.SCORE_THRESHOLD, threshold=500, created_at=NOW),
            "threshold",
        ),
        (AlertRule(user_id=1, kind="nope", created_at=NOW), "kind"),  # type: ignore[arg-type]
    ],
)
def test_a_rule_that_breaks_its_kinds_rules_is_refused_when_evaluated(rule: AlertRule, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        evaluate_rule(rule, 1, "P", [], [], NOW)
    assert refused.value.field == field


def test_what_the_public_functions_take_and_give_is_public() -> None:
    for name in ("AlertRule", "AlertRuleKind", "TrendScore", "AdGain", "ad_gains", "ViralAd", "WindowGain"):
        assert name in domain.__all__, name
        assert hasattr(domain, name), name


def test_a_heat_map_level_it_does_not_know_is_refused() -> None:
    with pytest.raises(InvalidValue) as refused:
        heat_map([_snapshot()], [1], since=None, until=NOW, level="city")  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.rule) == ("level", "must be one of: continent, country")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"epochs": [0.0, math.nan]}, "epochs"),
        ({"epochs": [math.nan, 86_400.0]}, "epochs"),
        ({"epochs": [-math.inf, 86_400.0]}, "epochs"),
        ({"epochs": [0.0, math.inf]}, "epochs"),
        ({"views": [1, math.nan]}, "views"),
        ({"views": [math.nan, 2]}, "views"),
        ({"views": [1, math.inf]}, "views"),
        ({"views": [1, 10**400]}, "views"),
        ({"interactions": [0, math.nan]}, "interactions"),
        ({"interactions": [0, 10**400]}, "interactions"),
    ],
)
def test_a_series_with_a_time_or_count_that_is_not_a_number_is_refused_by_name(
    changes: dict[str, Any], field: str
) -> None:
    """A count that is NaN, infinite or beyond what a float holds, or a reading time that is
    not finite, is refused by name (the check is a sum per list, so a single count a little
    above the stores' 64 bits is still scored: it is a number the engine computes with)."""
    good = ReadingSeries(1, Platform.TIKTOK, "US", [0.0, 86_400.0], [1, 2], [0, 0])
    with pytest.raises(InvalidValue) as refused:
        score_series([good._replace(**changes)], NOW)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("call", "field", "says"),
    [
        (lambda: domain.score_item(5, NOW), "snapshots", "must be a list"),  # type: ignore[arg-type]
        (lambda: domain.score_item("US", NOW), "snapshots", "must be a list"),  # type: ignore[arg-type]
        (lambda: domain.score_item([{"views": 1}], NOW), "snapshots", "item 0 is a dict"),  # type: ignore[list-item]
        (lambda: domain.score_item([_snapshot(), None], NOW), "snapshots", "item 1 is a NoneType"),  # type: ignore[list-item]
        (lambda: domain.reading_series([3]), "readings", "item 0 is an int"),  # type: ignore[list-item]
        (lambda: domain.score_many({1: 5}, NOW), "snapshots", "must be a list"),  # type: ignore[dict-item]
        (lambda: domain.score_many([1], NOW), "items", "must be a mapping"),  # type: ignore[arg-type]
        (lambda: domain.score_item([_snapshot()], datetime(2200, 1, 1, tzinfo=UTC)), "as_of", "2100"),
        (lambda: domain.score_series([], datetime(1900, 1, 1, tzinfo=UTC)), "as_of", "1970"),
    ],
)
def test_the_scoring_functions_refuse_what_is_not_readings_by_name(
    call: Callable[[], object], field: str, says: str
) -> None:
    """score_item(5, now) was a TypeError, score_item([{...}], now) an AttributeError, and an
    as_of in 2200 was scored though every other entry point refuses an instant after 2100."""
    with pytest.raises(InvalidValue) as refused:
        call()
    assert refused.value.field == field
    assert says in refused.value.rule, refused.value.rule


@pytest.mark.parametrize(
    ("series", "field", "says"),
    [
        (5, "series", "must be a list"),
        ([5], "series", "item 0 is an int"),
        (
            [ReadingSeries(1, Platform.TIKTOK, "US", [0.0, 86_400.0], ["a", "b"], [0, 0])],  # type: ignore[list-item]
            "views",
            "whole numbers",
        ),
        (
            [ReadingSeries(1, Platform.TIKTOK, "US", [0.0, 86_400.0], [1, 2], [None, 0])],  # type: ignore[list-item]
            "interactions",
            "whole numbers",
        ),
        ([ReadingSeries(1, Platform.TIKTOK, "US", ["x", "y"], [1, 2], [0, 0])], "epochs", "finite"),  # type: ignore[list-item]
    ],
)
def test_score_series_refuses_what_is_not_series_by_name(series: object, field: str, says: str) -> None:
    """score_series(5, now) and counts that are text were TypeErrors."""
    with pytest.raises(InvalidValue) as refused:
        score_series(series, NOW)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert says in refused.value.rule, refused.value.rule


@dataclass(frozen=True)
class _Reading:
    """An embedder's own reading: the attributes the engine reads, and no checks of its own."""

    ad_id: Any = 1
    product_id: Any = 1
    platform: Any = Platform.TIKTOK
    region: Any = "US"
    observed_at: Any = NOW
    views: Any = 10
    likes: Any = 0
    comments: Any = 0
    shares: Any = 0


_WRONG_READINGS = [
    ({"views": -1}, "views"),
    ({"views": True}, "views"),
    ({"views": 10.0}, "views"),
    ({"views": math.nan}, "views"),
    ({"likes": math.inf}, "likes"),
    ({"comments": -3}, "comments"),
    ({"shares": 2**63}, "shares"),
    ({"shares": "4"}, "shares"),
    ({"observed_at": NAIVE}, "observed_at"),
    ({"observed_at": "2026-12-01T00:00:00Z"}, "observed_at"),
    ({"ad_id": True}, "ad_id"),
    ({"ad_id": 1.0}, "ad_id"),
    ({"ad_id": "1"}, "ad_id"),
    ({"platform": "MySpace"}, "platform"),
    ({"region": ""}, "region"),
    ({"region": None}, "region"),
]


@pytest.mark.parametrize(("changes", "field"), _WRONG_READINGS)
def test_an_embedders_reading_with_a_wrong_field_is_refused_naming_it(
    changes: dict[str, Any], field: str
) -> None:
    """A reading that is not an EngagementSnapshot was scored as it came: a negative count
    lowered the level, a float or True was counted, NaN broke the sums, a naive time was read
    as the machine's local time (or was a TypeError against as_of)."""
    good = _Reading(observed_at=NOW - timedelta(days=1), views=5)
    wrong = _Reading(**changes)
    for call in (
        lambda: domain.score_item([good, wrong], NOW),
        lambda: domain.score_many({1: [good, wrong]}, NOW),
        lambda: domain.reading_series([good, wrong]),
    ):
        with pytest.raises(InvalidValue) as refused:
            call()
        assert refused.value.field == field, refused.value


def test_an_embedders_reading_that_is_right_scores_as_the_snapshot_would() -> None:
    readings = [
        _Reading(observed_at=NOW - timedelta(days=d), views=10 * 2 ** (5 - d), likes=d) for d in range(6)
    ]
    snapshots = [_snapshot(observed_at=r.observed_at, views=r.views, likes=r.likes) for r in readings]
    assert domain.score_item(readings, NOW) == domain.score_item(snapshots, NOW)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ad_id": True}, "ad_id"),
        ({"ad_id": 1.5}, "ad_id"),
        ({"ad_id": "7"}, "ad_id"),
        ({"product_id": False}, "product_id"),
        ({"product_id": 2.0}, "product_id"),
        ({"product_id": None}, "product_id"),
    ],
)
def test_a_snapshot_refuses_an_id_that_is_not_a_whole_number(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        _snapshot(**changes)
    assert (refused.value.field, refused.value.rule) == (field, "must be a whole number")


@pytest.mark.parametrize(
    "series",
    [
        [ReadingSeries(True, Platform.TIKTOK, "US", [0.0, 86_400.0], [1, 2], [0, 0])],
        [ReadingSeries(1.5, Platform.TIKTOK, "US", [0.0, 86_400.0], [1, 2], [0, 0])],  # type: ignore[arg-type]
    ],
)
def test_score_series_refuses_an_ad_id_that_is_not_a_whole_number(series: list[ReadingSeries]) -> None:
    with pytest.raises(InvalidValue) as refused:
        score_series(series, NOW)
    assert refused.value.field == "ad_id"


def test_one_ad_read_on_two_platforms_is_refused() -> None:
    """An ad lives on one platform: readings of it on two were scored, the platform of its
    first reading (in that region) taken for all, and the rest dropped or counted twice."""
    day = timedelta(days=1)
    tiktok = _snapshot(observed_at=NOW - day, views=5)
    youtube_same_region = _snapshot(platform=Platform.YOUTUBE)
    youtube_other_region = _snapshot(platform=Platform.YOUTUBE, region="FR")
    for readings in ([tiktok, youtube_same_region], [tiktok, youtube_other_region]):
        for call in (domain.score_item, domain.reading_series):
            with pytest.raises(InvalidValue) as refused:
                call(readings, NOW)
            assert refused.value.field == "platform"
            assert "ad 1" in refused.value.rule and "one platform" in refused.value.rule, refused.value.rule
    series = [
        ReadingSeries(1, Platform.TIKTOK, "US", [0.0, 86_400.0], [1, 2], [0, 0]),
        ReadingSeries(1, Platform.YOUTUBE, "FR", [0.0, 86_400.0], [1, 2], [0, 0]),
    ]
    with pytest.raises(InvalidValue) as refused:
        score_series(series, NOW)
    assert refused.value.field == "platform"


_THRESHOLD = AlertRule(user_id=1, kind=AlertRuleKind.SCORE_THRESHOLD, threshold=50, created_at=NOW)
_VIRAL = AlertRule(user_id=1, kind=AlertRuleKind.NEW_VIRAL_AD, created_at=NOW)


def _score(**changes: Any) -> TrendScore:
    values: dict[str, Any] = {
        "id": 1,
        "product_id": 1,
        "calculated_at": NOW,
        "assessment": TrendAssessment(score=60.0, status=TrendStatus.STEADY, confidence=1.0),
    }
    return TrendScore(**{**values, **changes})


def _assessed(score: float) -> TrendAssessment:
    return TrendAssessment(score=score, status=TrendStatus.STEADY, confidence=1.0)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: evaluate_rule("rule", 1, "P", [], [], NOW), "rule"),  # type: ignore[arg-type]
        (
            lambda: evaluate_rule(replace(_THRESHOLD, created_at=NAIVE), 1, "P", [_score()], [], NOW),
            "created_at",
        ),
        (lambda: evaluate_rule(replace(_THRESHOLD, created_at="x"), 1, "P", [], [], NOW), "created_at"),  # type: ignore[arg-type]
        (lambda: evaluate_rule(_THRESHOLD, "1", "P", [], [], NOW), "product_id"),  # type: ignore[arg-type]
        (lambda: evaluate_rule(_THRESHOLD, True, "P", [], [], NOW), "product_id"),
        (lambda: evaluate_rule(_THRESHOLD, 1, None, [], [], NOW), "product_name"),  # type: ignore[arg-type]
        (lambda: evaluate_rule(_THRESHOLD, 1, "P", 5, [], NOW), "history"),  # type: ignore[arg-type]
        (lambda: evaluate_rule(_THRESHOLD, 1, "P", [5], [], NOW), "history"),  # type: ignore[list-item]
        (lambda: evaluate_rule(_THRESHOLD, 1, "P", [_score(calculated_at=NAIVE)], [], NOW), "calculated_at"),
        (lambda: evaluate_rule(_THRESHOLD, 1, "P", [_score(assessment=None)], [], NOW), "assessment"),
        (
            lambda: evaluate_rule(_THRESHOLD, 1, "P", [_score(assessment=_assessed(math.nan))], [], NOW),
            "score",
        ),
        (lambda: evaluate_rule(_THRESHOLD, 1, "P", [_score(id="a")], [], NOW), "id"),
        (lambda: evaluate_rule(_VIRAL, 1, "P", [], 5, NOW), "viral_ads"),  # type: ignore[arg-type]
        (lambda: evaluate_rule(_VIRAL, 1, "P", [], [5], NOW), "viral_ads"),  # type: ignore[list-item]
        (lambda: evaluate_rule(_THRESHOLD, 1, "P", [], [], datetime(2200, 1, 1, tzinfo=UTC)), "now"),
        (lambda: evaluate_rule(_THRESHOLD, 1, "P", [], [], NOW, history_since=NAIVE), "history_since"),
        (
            lambda: evaluate_rule(
                _THRESHOLD, 1, "P", [], [], NOW, history_since=datetime(1, 1, 1, tzinfo=UTC)
            ),
            "history_since",
        ),
    ],
)
def test_evaluate_rule_refuses_what_it_cannot_evaluate_naming_it(
    call: Callable[[], object], field: str
) -> None:
    """A rule that is not an AlertRule, a history or viral ads that are not lists of scores and
    hits, a naive time in them or the rule were AttributeErrors and TypeErrors; a NaN score
    silently never alerted, and a ``now`` in 2200 was taken though every other entry point
    refuses an instant after 2100."""
    with pytest.raises(InvalidValue) as refused:
        call()
    assert refused.value.field == field, refused.value


@pytest.mark.parametrize("threshold", [math.nan, math.inf, -math.inf, True, "50", 0, -1, 100.5])
def test_evaluate_rule_refuses_a_threshold_it_cannot_compare_with(threshold: object) -> None:
    for kind in (AlertRuleKind.SCORE_THRESHOLD, AlertRuleKind.SCORE_RISE):
        rule = AlertRule(user_id=1, kind=kind, threshold=threshold, window_hours=24, created_at=NOW)  # type: ignore[arg-type]
        with pytest.raises(InvalidValue) as refused:
            evaluate_rule(rule, 1, "P", [_score()], [], NOW)
        assert refused.value.field == "threshold"


_SNAPS = [
    EngagementSnapshot(
        ad_id=1,
        product_id=1,
        platform=Platform.TIKTOK,
        region="US",
        observed_at=NOW - timedelta(days=2),
        views=5,
    ),
    EngagementSnapshot(
        ad_id=1, product_id=1, platform=Platform.TIKTOK, region="US", observed_at=NOW, views=50
    ),
]
_EARLY = datetime(1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: window_gains(_SNAPS, NOW, NOW - timedelta(days=1)), "start"),
        (lambda: window_gains(_SNAPS, _EARLY, NOW), "start"),
        (lambda: window_gains(_SNAPS, NOW - timedelta(days=1), datetime(2200, 1, 1, tzinfo=UTC)), "end"),
        (lambda: window_gains(5, NOW - timedelta(days=1), NOW), "snapshots"),  # type: ignore[arg-type]
        (lambda: window_gains([5], NOW - timedelta(days=1), NOW), "snapshots"),  # type: ignore[list-item]
        (lambda: window_gains([_Reading(views=-1)], NOW - timedelta(days=1), NOW), "views"),  # type: ignore[list-item]
        (lambda: ad_gains(5), "gains"),  # type: ignore[arg-type]
        (lambda: ad_gains([5]), "gains"),  # type: ignore[list-item]
        (lambda: heat_map(_SNAPS, [1], since=NOW, until=NOW - timedelta(days=1)), "since"),
        (lambda: heat_map(_SNAPS, [1], since=None, until=_EARLY), "until"),
        (lambda: heat_map(_SNAPS, [1], since=_EARLY, until=NOW), "since"),
        (lambda: heat_map(5, [1], since=None, until=NOW), "snapshots"),  # type: ignore[arg-type]
        (lambda: heat_map([5], [1], since=None, until=NOW), "snapshots"),  # type: ignore[list-item]
        (lambda: heat_map(_SNAPS, 5, since=None, until=NOW), "product_ids"),  # type: ignore[arg-type]
        (lambda: heat_map(_SNAPS, ["a"], since=None, until=NOW), "product_ids"),  # type: ignore[list-item]
        (lambda: heat_map(_SNAPS, [True], since=None, until=NOW), "product_ids"),
        (lambda: spread_score(5, "DE", NOW), "snapshots"),  # type: ignore[arg-type]
        (lambda: spread_score([5], "DE", NOW), "snapshots"),  # type: ignore[list-item]
        (lambda: spread_score([_Reading(observed_at=NAIVE)], "DE", NOW), "observed_at"),  # type: ignore[list-item]
        (lambda: spread_score(_SNAPS, 5, NOW), "target"),  # type: ignore[arg-type]
        (lambda: spread_score(_SNAPS, "", NOW), "target"),
        (lambda: spread_score(_SNAPS, "DE", NOW, 5), "params"),  # type: ignore[arg-type]
        (lambda: spread_score(_SNAPS, "DE", _EARLY), "as_of"),
    ],
)
def test_the_gains_heat_map_and_spread_refuse_what_they_cannot_use_naming_it(
    call: Callable[[], object], field: str
) -> None:
    """A window that ends before it starts was an empty answer; a start in year 1 an
    OverflowError; input that is not a list of readings, gains or product ids a TypeError or
    an AttributeError; a target that is not a region code was scored as one."""
    with pytest.raises(InvalidValue) as refused:
        call()
    assert refused.value.field == field, refused.value


def test_a_heat_map_takes_its_readings_from_a_generator_as_from_a_list() -> None:
    """The readings were read twice without a ``since`` (once for the earliest), so a generator
    gave a map of zeros."""
    as_list = heat_map(_SNAPS, [1], since=None, until=NOW, level="country")
    assert as_list == {1: {"US": 100.0}}
    assert heat_map((s for s in _SNAPS), [1], since=None, until=NOW, level="country") == as_list


def test_an_embedders_readings_give_the_gains_and_spread_that_snapshots_give() -> None:
    """Objects with a snapshot's fields are taken (their platform by name too), as the scoring
    takes them."""
    readings = [
        _Reading(observed_at=s.observed_at, views=s.views, platform="TikTok", product_id=1) for s in _SNAPS
    ]
    start = NOW - timedelta(days=3)
    assert window_gains(readings, start, NOW) == window_gains(_SNAPS, start, NOW)  # type: ignore[arg-type]
    assert spread_score(readings, "DE", NOW) == spread_score(_SNAPS, "DE", NOW)  # type: ignore[arg-type]


# Whole and real numbers of other types (what NumPy and pandas hand an embedder: np.int64,
# np.float32), without NumPy: stand-ins registered with the ABCs of ``numbers``, which are all
# NumPy's scalars are to the domain. They carry no arithmetic and no order on purpose: the domain
# reads them as a plain int or float once, at the edge, and never computes with them.


class _OtherInt:
    """A whole number that is not an int, as NumPy's int64 is: a numbers.Integral."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"_Whole({self.value})"


class _OtherReal:
    """A real number that is not a float, as NumPy's float32 is: a numbers.Real."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"_Real({self.value})"


numbers.Integral.register(_OtherInt)
numbers.Real.register(_OtherReal)
# Typed as what they stand for (an embedder's code says int where it hands over an np.int64).
_Whole: Callable[[int], Any] = _OtherInt
_Real: Callable[[float], Any] = _OtherReal

_DAYS = 6


def _readings(wrap: Callable[[int], object]) -> list[_Reading]:
    """An embedder's readings of two ads, their ids and counts given through ``wrap``."""
    return [
        _Reading(
            ad_id=wrap(ad),
            product_id=wrap(ad),
            region=region,
            observed_at=NOW - timedelta(days=d),
            views=wrap(10 * 2 ** (_DAYS - d) + ad),
            likes=wrap(d + ad),
            comments=wrap(ad),
            shares=wrap(1),
        )
        for ad, region in ((1, "US"), (2, "DE"))
        for d in range(_DAYS)
    ]


def _plain(value: int) -> int:
    return value


def test_a_snapshot_takes_whole_numbers_of_other_types_and_keeps_them_as_ints() -> None:
    """A NumPy int64 id or count was refused: 'must be a whole number'."""
    snapshot = _snapshot(
        ad_id=_Whole(3),
        product_id=_Whole(4),
        views=_Whole(10),
        likes=_Whole(2),
        comments=_Whole(1),
        shares=_Whole(0),
    )
    assert snapshot == _snapshot(ad_id=3, product_id=4, views=10, likes=2, comments=1, shares=0)
    for name in ("ad_id", "product_id", "views", "likes", "comments", "shares"):
        assert type(getattr(snapshot, name)) is int, name


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"views": _Whole(-1)}, "views"),
        ({"likes": _Whole(2**63)}, "likes"),
        ({"views": _Real(10.0)}, "views"),
        ({"views": Fraction(10)}, "views"),
        ({"ad_id": True}, "ad_id"),
        ({"product_id": True}, "product_id"),
        ({"shares": False}, "shares"),
    ],
)
def test_a_snapshot_still_refuses_other_whole_numbers_out_of_range_reals_and_bools(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        _snapshot(**changes)
    assert refused.value.field == field


def test_the_scoring_takes_an_embedders_readings_with_whole_numbers_of_other_types() -> None:
    """A reading with NumPy integer counts was refused: 'views: must be a whole number'."""
    expected = domain.score_item(_readings(_plain), NOW)
    assert domain.score_item(_readings(_Whole), NOW) == expected
    assert domain.score_many({1: _readings(_Whole)}, NOW) == {1: expected}
    series = domain.reading_series(_readings(_Whole))
    assert series == domain.reading_series(_readings(_plain))
    assert all(type(s.ad_id) is int and all(type(v) is int for v in s.views) for s in series)
    other = [s._replace(ad_id=_Whole(s.ad_id)) for s in series]
    assert score_series(other, NOW) == score_series(series, NOW)


def test_score_series_takes_lists_of_other_kinds_and_numbers_of_other_types() -> None:
    """Series as a NumPy frame gives them: tuples or arrays rather than lists, counts that are
    NumPy integers and times that are NumPy floats (an array was a ValueError: its truth value
    is ambiguous). Text among the counts is still refused by name."""
    series = domain.reading_series(_readings(_plain))
    other = [
        s._replace(
            epochs=tuple(_Real(e) for e in s.epochs),  # type: ignore[arg-type]
            views=tuple(_Whole(v) for v in s.views),  # type: ignore[arg-type]
            interactions=[_Whole(v) for v in s.interactions],
        )
        for s in series
    ]
    assert score_series(other, NOW) == score_series(series, NOW)
    with pytest.raises(InvalidValue) as refused:
        score_series([series[0]._replace(views=(*series[0].views[:-1], "7"))], NOW)  # type: ignore[arg-type]
    assert refused.value.field == "views"


class _Int64(_OtherInt):
    """A whole number with the arithmetic of NumPy's int64: a sum beyond 2^63 - 1 wraps round,
    with NumPy's RuntimeWarning (an error under the tests' warning filter)."""

    __slots__ = ()

    def __add__(self, other: object) -> _Int64:
        total = self.value + operator.index(other)  # type: ignore[arg-type]  # an int or an _Int64
        wrapped = (total + 2**63) % 2**64 - 2**63
        if wrapped != total:
            warnings.warn("overflow encountered in scalar add", RuntimeWarning, stacklevel=2)
        return _Int64(wrapped)

    __radd__ = __add__


@pytest.mark.parametrize("given_as", [list, tuple])
def test_score_series_reads_counts_of_other_types_as_ints_before_adding_them(
    given_as: Callable[[Any], Any],
) -> None:
    """Counts of a NumPy int64 array whose total passes 2^63 - 1 (each within it) score as the
    same ints do: they were summed as given before being read as ints, and int64 wrapped round
    (NumPy's RuntimeWarning, 'overflow encountered in scalar add')."""
    counts = [2**62, 2**62 + 2**61, MAX_COUNT]
    epochs = [(NOW - timedelta(days=d)).timestamp() for d in (2, 1, 0)]
    plain = ReadingSeries(1, Platform.TIKTOK, "US", epochs, counts, counts)
    other = plain._replace(
        views=given_as(_Int64(v) for v in counts), interactions=given_as(_Int64(v) for v in counts)
    )
    assert score_series([other], NOW) == score_series([plain], NOW)


@pytest.mark.parametrize("field", ["epochs", "views", "interactions"])
def test_score_series_refuses_a_bool_among_plain_numbers_naming_the_list(field: str) -> None:
    """A bool is a truth, not a number, here too: in a list of ints it was summed as 1 and
    scored."""
    series = domain.reading_series(_readings(_plain))[0]
    changed: dict[str, Any] = {field: [*getattr(series, field)[:-1], True]}
    with pytest.raises(InvalidValue) as refused:
        score_series([series._replace(**changed)], NOW)
    assert refused.value.field == field


_FIELDS = ("ad_id", "product_id", "platform", "region", "observed_at", "views", "likes", "comments", "shares")


@given(
    counts=st.lists(
        st.tuples(st.integers(0, MAX_COUNT), st.integers(0, MAX_COUNT), st.integers(0, 10**6)),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=60, deadline=None)
def test_scores_with_whole_numbers_of_other_types_are_those_with_ints(
    counts: list[tuple[int, int, int]],
) -> None:
    def readings(wrap: Callable[[int], object]) -> list[_Reading]:
        return [
            _Reading(
                ad_id=wrap(index % 3),
                observed_at=NOW - timedelta(hours=7 * index),
                views=wrap(views),
                likes=wrap(likes),
                shares=wrap(shares),
            )
            for index, (views, likes, shares) in enumerate(counts)
        ]

    assert domain.score_item(readings(_Whole), NOW) == domain.score_item(readings(_plain), NOW)
    snapshots = [_snapshot(**{k: getattr(r, k) for k in _FIELDS}) for r in readings(_Whole)]
    assert domain.score_item(snapshots, NOW) == domain.score_item(readings(_plain), NOW)


def test_the_gains_heat_map_and_spread_take_whole_numbers_of_other_types() -> None:
    """heat_map(..., np.array([1, 2])) was refused: 'product_ids: must be whole numbers'."""
    start = NOW - timedelta(days=3)
    plain, other = _readings(_plain), _readings(_Whole)
    assert window_gains(other, start, NOW) == window_gains(plain, start, NOW)  # type: ignore[arg-type]
    assert spread_score(other, "FR", NOW) == spread_score(plain, "FR", NOW)  # type: ignore[arg-type]
    mapped = heat_map(other, [_Whole(1), _Whole(2)], since=None, until=NOW)  # type: ignore[arg-type]
    assert mapped == heat_map(plain, [1, 2], since=None, until=NOW)  # type: ignore[arg-type]
    assert all(type(key) is int for key in mapped)
    gains = window_gains(plain, start, NOW)  # type: ignore[arg-type]
    summed = ad_gains(
        [replace(g, gained=_Whole(g.gained), base=_Whole(g.base), ad_id=_Whole(g.ad_id)) for g in gains]
    )
    assert summed == ad_gains(gains)
    assert all(type(g.gained) is int and type(g.base) is int and type(g.ad_id) is int for g in summed)


def test_the_scan_ranks_gains_with_whole_numbers_of_other_types_as_with_ints() -> None:
    """An AdGain with NumPy integer counts was refused: 'gained: must be a whole number'."""
    gains = [
        domain.AdGain(ad, 1, Platform.TIKTOK, 10**6 if ad == 1 else 1000, 1000, NOW - timedelta(days=2), NOW)
        for ad in range(1, 12)
    ]
    other = [
        g._replace(ad_id=_Whole(g.ad_id), product_id=_Whole(1), gained=_Whole(g.gained), base=_Whole(g.base))
        for g in gains
    ]
    hits = rank_gains(other, NOW)
    assert hits == rank_gains(gains, NOW)
    assert hits  # the ranking compared something
    assert all(type(h.ad_id) is int and type(h.views_gained) is int for h in hits)
    with pytest.raises(InvalidValue) as refused:
        rank_gains([gains[0]._replace(gained=True)], NOW)
    assert refused.value.field == "gained"


@given(counts=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_the_scan_ranks_whole_numbers_of_other_types_as_it_ranks_ints(counts: list[tuple[int, int]]) -> None:
    gains = [
        domain.AdGain(ad, 1, Platform.TIKTOK, gained, base, NOW - timedelta(days=2), NOW)
        for ad, (gained, base) in enumerate(counts)
    ]
    other = [
        g._replace(ad_id=_Whole(g.ad_id), product_id=_Whole(1), gained=_Whole(g.gained), base=_Whole(g.base))
        for g in gains
    ]
    assert rank_gains(other, NOW) == rank_gains(gains, NOW)


def test_an_alert_rule_takes_ids_and_numbers_of_other_types() -> None:
    """evaluate_rule(rule, np.int64(1), ...) was refused: 'product_id: must be a whole number'.
    The events carry plain numbers (the rule's too): what the stores are given."""
    history = [_score(id=1, assessment=_assessed(40.0)), _score(id=2, assessment=_assessed(60.0))]
    other_history = [
        _score(id=_Whole(1), assessment=_assessed(Fraction(40))),  # type: ignore[arg-type]
        _score(id=_Whole(2), assessment=_assessed(_Real(60.0))),
    ]
    rise = AlertRule(user_id=1, kind=AlertRuleKind.SCORE_RISE, threshold=10, window_hours=24, created_at=NOW)
    for rule, other_rule in (
        (_THRESHOLD, replace(_THRESHOLD, threshold=_Real(50.0))),
        (_THRESHOLD, replace(_THRESHOLD, threshold=Fraction(50))),  # type: ignore[arg-type]
        (rise, replace(rise, threshold=_Real(10.0), window_hours=_Whole(24))),
    ):
        expected = evaluate_rule(rule, 1, "Lamp", history, [], NOW)
        assert expected
        events = evaluate_rule(other_rule, _Whole(1), "Lamp", other_history, [], NOW)
        assert events == expected
        for event in events:
            assert type(event.product_id) is int and type(event.rule.threshold) is float
            assert event.rule.window_hours is None or type(event.rule.window_hours) is int
    assert domain.validate_rule("score_rise", Fraction(10), _Whole(24)) is AlertRuleKind.SCORE_RISE
    for call in (
        lambda: evaluate_rule(_THRESHOLD, True, "Lamp", history, [], NOW),
        lambda: evaluate_rule(_THRESHOLD, 1, "Lamp", [_score(id=True)], [], NOW),
        lambda: evaluate_rule(replace(_THRESHOLD, threshold=_Real(math.nan)), 1, "Lamp", history, [], NOW),
        lambda: domain.validate_rule("score_rise", 10, True),
    ):
        with pytest.raises(InvalidValue):
            call()


def test_the_parameters_take_numbers_of_other_types_and_keep_them_plain() -> None:
    """BurstParams(pseudo_count=np.float32(2)) was refused: 'pseudo_count: must be a finite
    number above 0'; a NumPy int64 window or horizon too."""
    burst = domain.BurstParams(
        smoothing=_Whole(3),
        pseudo_count=_Real(2.0),
        upper_quantile=Fraction(99, 100),
        alarm_level=_Real(0.998),
    )
    assert burst == domain.BurstParams()
    assert (
        type(burst.smoothing) is int
        and type(burst.pseudo_count) is float
        and type(burst.upper_quantile) is float
    )
    scoring = domain.ScoringParams(horizon_days=_Whole(30), reach_weight=Fraction(1, 20), scale=_Real(1.0))
    assert scoring == domain.ScoringParams()
    assert (
        type(scoring.horizon_days) is int
        and type(scoring.reach_weight) is float
        and type(scoring.scale) is float
    )
    spread = domain.SpreadParams(freshness_days=Fraction(1, 2), scale=_Real(1.5))
    assert spread == domain.SpreadParams()
    assert type(spread.freshness_days) is float and type(spread.scale) is float


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: domain.BurstParams(pseudo_count=True), "pseudo_count"),
        (lambda: domain.BurstParams(smoothing=True), "smoothing"),
        (lambda: domain.BurstParams(pseudo_count=_Real(math.inf)), "pseudo_count"),
        (lambda: domain.BurstParams(upper_quantile=_Real(math.nan)), "upper_quantile"),
        (lambda: domain.BurstParams(history=_Real(100.0)), "history"),
        (lambda: domain.ScoringParams(horizon_days=True), "horizon_days"),
        (lambda: domain.ScoringParams(horizon_days=Fraction(30)), "horizon_days"),  # type: ignore[arg-type]
        (lambda: domain.ScoringParams(centre=_Real(math.nan)), "centre"),
        (lambda: domain.ScoringParams(reach_weight=False), "reach_weight"),
        (lambda: domain.SpreadParams(scale=_Real(math.inf)), "scale"),
        (lambda: domain.SpreadParams(centre=True), "centre"),
    ],
)
def test_the_parameters_still_refuse_bools_non_finite_numbers_and_fractions_for_wholes(
    make: Callable[[], object], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        make()
    assert refused.value.field == field


def test_the_burst_detector_reads_whole_and_real_numbers_of_other_types_as_their_floats() -> None:
    values = [3, 5, 2, 40, 7, 1, 0, 9] * 40
    plain, other = (
        domain.BurstDetector(domain.BurstParams(warmup=20)),
        domain.BurstDetector(domain.BurstParams(warmup=20)),
    )
    wrapped = [
        _Whole(v) if i % 3 == 0 else _Real(float(v)) if i % 3 == 1 else Fraction(v)
        for i, v in enumerate(values)
    ]
    assert [other.update(v) for v in wrapped] == [plain.update(v) for v in values]
    with pytest.raises(InvalidValue):
        plain.update(True)


_SERIES = ReadingSeries(1, Platform.TIKTOK, "US", [0.0, 86_400.0], [1, 2], [0, 0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: domain.score_item([], NOW, None),  # type: ignore[arg-type]
        lambda: score_series([], NOW, "x"),  # type: ignore[arg-type]
        lambda: domain.score_many({1: []}, NOW, None),  # type: ignore[arg-type]
    ],
)
def test_the_scoring_refuses_params_that_are_not_scoring_params_naming_them(
    call: Callable[[], object],
) -> None:
    """None or text as params was an AttributeError ('NoneType' object has no attribute
    'forecast_days'), where BurstDetector(None) and spread_score(..., None) name them."""
    with pytest.raises(InvalidValue) as refused:
        call()
    assert refused.value.field == "params"
    assert refused.value.rule.startswith("must be a ScoringParams"), refused.value.rule


@pytest.mark.parametrize(
    ("series", "field"),
    [
        (ReadingSeries(1, Platform.TIKTOK, "US", [0.0], [1], None), "interactions"),  # type: ignore[arg-type]
        (ReadingSeries(1, Platform.TIKTOK, "US", 5, 5, 5), "epochs"),  # type: ignore[arg-type]
        (ReadingSeries(1, Platform.TIKTOK, "US", [0.0], 5, [0]), "views"),  # type: ignore[arg-type]
    ],
)
def test_score_series_refuses_a_list_that_is_not_a_list_naming_it(series: ReadingSeries, field: str) -> None:
    """A series whose epochs, views or interactions are None or a number was a TypeError
    (no len())."""
    with pytest.raises(InvalidValue) as refused:
        score_series([series], NOW)
    assert refused.value.field == field


@pytest.mark.parametrize(
    "as_of",
    [NAIVE, "x", datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)],
)
def test_reading_series_refuses_an_as_of_score_item_refuses_naming_it(as_of: object) -> None:
    """A naive as_of was a TypeError (comparing it with the readings' aware times); text or a
    time outside 1970-2100 was taken without a word."""
    with pytest.raises(InvalidValue) as refused:
        domain.reading_series([_snapshot()], as_of)  # type: ignore[arg-type]
    assert refused.value.field == "as_of"
    with pytest.raises(InvalidValue) as refused:
        domain.reading_series([], as_of)  # type: ignore[arg-type]
    assert refused.value.field == "as_of"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"views": [1.5, 2.25]}, "views"),
        ({"views": [1, 2.0]}, "views"),
        ({"interactions": [0.5, 1]}, "interactions"),
        ({"views": (1, 2.5)}, "views"),
        ({"interactions": (0, Fraction(1, 2))}, "interactions"),
    ],
)
def test_score_series_refuses_fractional_counts_naming_the_list(changes: dict[str, Any], field: str) -> None:
    """Counts of 1.5 and 0.5 views were scored (95, emerging), where score_item refuses
    views=1.5: a count is a whole number."""
    with pytest.raises(InvalidValue) as refused:
        score_series([_SERIES._replace(**changes)], NOW)
    assert refused.value.field == field
    assert "whole numbers" in refused.value.rule


@pytest.mark.parametrize(
    "observed_at",
    [
        datetime.min.replace(tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2101, 1, 1, tzinfo=UTC),
    ],
)
def test_a_reading_outside_1970_to_2100_is_refused_naming_observed_at(observed_at: datetime) -> None:
    """datetime.min with UTC was taken, by a snapshot and by score_item, and distorted the score."""
    with pytest.raises(InvalidValue) as refused:
        _snapshot(observed_at=observed_at)
    assert refused.value.field == "observed_at"
    with pytest.raises(InvalidValue) as refused:
        domain.score_item([_snapshot(), _Reading(observed_at=observed_at)], NOW)
    assert refused.value.field == "observed_at"


def test_a_reading_at_the_edges_of_1970_to_2100_is_taken() -> None:
    east = timezone(timedelta(hours=2))
    for observed_at in (
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 2, tzinfo=east),
        datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2101, 1, 1, 1, tzinfo=east),
    ):
        assert _snapshot(observed_at=observed_at).observed_at == observed_at
    for observed_at in (datetime(1970, 1, 1, 1, tzinfo=east), datetime(2101, 1, 1, 2, tzinfo=east)):
        with pytest.raises(InvalidValue):
            _snapshot(observed_at=observed_at)


@pytest.mark.parametrize("epochs", [[-1e12, 86_400.0], [0.0, 1e12], [86_400.0, -1.0]])
def test_score_series_refuses_reading_times_outside_1970_to_2100_naming_epochs(epochs: list[float]) -> None:
    """Epochs of -1e12 (year -29719) were scored."""
    with pytest.raises(InvalidValue) as refused:
        score_series([_SERIES._replace(epochs=epochs)], NOW)
    assert refused.value.field == "epochs"
    assert "2100" in refused.value.rule


@pytest.mark.parametrize(
    ("views", "interactions", "field"),
    [
        ([0, MAX_COUNT + 1], [0, 0], "views"),
        ([0, 1], [0, MAX_COUNT + 1], "interactions"),
        ([0, 2**63], [0, 2**63], "views"),
        ([0, 0, MAX_COUNT + 1], [0, 0, 0], "views"),
    ],
)
def test_score_series_refuses_a_count_beyond_2_63_minus_1_naming_it(
    views: list[int], interactions: list[int], field: str
) -> None:
    """A count of 2^63 was scored (99.99) where a snapshot refuses it: only the sum of a list was
    checked against MAX_COUNT times its length, which a lower count beside it kept within."""
    epochs = [float(86_400 * day) for day in range(len(views))]
    with pytest.raises(InvalidValue) as refused:
        score_series([ReadingSeries(1, Platform.TIKTOK, "US", epochs, views, interactions)], NOW)
    assert refused.value.field == field
    assert str(MAX_COUNT) in refused.value.rule, refused.value.rule


def test_score_series_takes_counts_up_to_2_63_minus_1() -> None:
    series = ReadingSeries(1, Platform.TIKTOK, "US", [0.0, 86_400.0], [MAX_COUNT, MAX_COUNT], [0, MAX_COUNT])
    assert 0 <= score_series([series], NOW).score <= 100


@pytest.mark.parametrize("platform", [["TikTok"], {"TikTok": 1}, None, "Myspace"])
def test_score_series_refuses_a_platform_that_is_not_one_naming_it(platform: object) -> None:
    """A platform given as a list (unhashable) was a TypeError from the look-up of its norm."""
    with pytest.raises(InvalidValue) as refused:
        score_series([_SERIES._replace(platform=platform)], NOW)  # type: ignore[arg-type]
    assert refused.value.field == "platform"
    assert "must be one of" in refused.value.rule, refused.value.rule
